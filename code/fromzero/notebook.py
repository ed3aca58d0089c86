"""Helpers for the book's notebooks that must also work outside the book build (Colab, plain Jupyter).

:func:`glue` records a computed value under a name so that the prose can quote it
(``{glue:text}`name``` in a markdown cell) instead of a typed-in number. It writes the same
display record that myst-nb's own ``glue`` writes, without importing myst-nb, which Colab lacks.

:func:`claim` guards a conclusion. A sentence such as "subsampling improves both scores" is true of
the run that was current when it was written; the next run, on another machine or with another
version of a library, may not support it. The cell that computes the result states the sentence
and the condition that makes it true, and the run (the book build included) stops with the
sentence quoted when the condition fails, instead of publishing a page that contradicts itself.
A reader's own run (Colab, another machine) is not the book's: there a failed claim prints a warning
that quotes the sentence and lets the notebook go on, since the text describes the book's run.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

import numpy as np
from IPython.core.formatters import format_display_data
from IPython.display import display

from fromzero.viz import in_book_build

GLUE_PREFIX = "application/papermill.record/"

T = TypeVar("T")


class ClaimError(AssertionError):
    """A sentence of the text is not supported by the result computed in this run."""


class ClaimWarning(UserWarning):
    """In a reader's own run, a result that differs from the book's enough to contradict a sentence."""


def glue(name: str, value: T) -> T:
    """Store ``value`` for the book's prose under ``name`` (invisible in the notebook); return it unchanged."""
    # NumPy scalars print as "np.float64(0.5)", which the book's number formatting cannot parse.
    plain = value.item() if isinstance(value, np.generic) else value
    bundle, metadata = format_display_data(plain)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
    return value


def claim(holds: bool | np.bool_, sentence: str, evidence: str = "") -> None:
    """Fail with ``sentence`` quoted unless ``holds``: the result no longer supports what the text says.

    ``evidence`` names the numbers behind the condition, for the error message. Nothing is shown
    when the claim holds, so a cell can guard several sentences without printing anything.
    """
    if not bool(holds):
        detail = f" ({evidence})" if evidence else ""
        message = f"the text says {sentence!r}, but this run's results do not support it{detail}"
        if not in_book_build():
            warnings.warn(f"{message}; the text describes the book's run, this one differs", ClaimWarning,
                          stacklevel=2)
            return
        raise ClaimError(message)
