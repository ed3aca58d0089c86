"""Reading and splitting the text a model is pretrained on (no torch import: the command line checks files first)."""

from __future__ import annotations

from pathlib import Path

from fromzero.data.readers import read_lines
from fromzero.errors import InputError

HOLDOUT_FRACTION = 0.05


def read_corpus(path: str | Path) -> str:
    """The text of a UTF-8 file; :class:`InputError` for a missing, unreadable, non-UTF-8 or empty file."""
    text = "\n".join(read_lines(path)).strip("\n")
    if not text.strip():
        raise InputError(f"{path}: empty corpus: no text found")
    return text


def split_holdout(text: str, fraction: float = HOLDOUT_FRACTION) -> tuple[str, str]:
    """Split off the last ``fraction`` of ``text`` for evaluation, at a line break where there is one."""
    cut = int(len(text) * (1 - fraction))
    line_break = text.find("\n", cut)
    cut = line_break if line_break != -1 else text.find(" ", cut)
    train, held_out = text[:cut].strip("\n"), text[cut:].strip()
    if cut == -1 or not train.strip() or not held_out:
        raise InputError(
            f"a text of {len(text)} characters is too short to hold out {fraction:.0%}: give --eval-corpus"
        )
    return train, held_out
