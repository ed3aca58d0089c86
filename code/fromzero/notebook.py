"""Helpers for the book's notebooks that must also work outside the book build (Colab, plain Jupyter).

:func:`glue` records a computed value under a name so that the prose can quote it
(``{glue:text}`name``` in a markdown cell) instead of a typed-in number. It writes the same
display record that myst-nb's own ``glue`` writes, without importing myst-nb, which Colab lacks.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from IPython.core.formatters import format_display_data
from IPython.display import display

GLUE_PREFIX = "application/papermill.record/"

T = TypeVar("T")


def glue(name: str, value: T) -> T:
    """Store ``value`` for the book's prose under ``name`` (invisible in the notebook); return it unchanged."""
    # NumPy scalars print as "np.float64(0.5)", which the book's number formatting cannot parse.
    plain = value.item() if isinstance(value, np.generic) else value
    bundle, metadata = format_display_data(plain)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display({GLUE_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
    return value
