"""An on-disk cache for parsed corpora, so a slow parse happens once per machine.

Parsing the Wikipedia sample out of its compressed XML takes a few seconds; every later notebook
run reads the already tokenised sentences back in a fraction of that. The cache lives in
``$FROMZERO_CACHE``, else ``$XDG_CACHE_HOME/fromzero``, else ``~/.cache/fromzero``. When it cannot
be written (a read-only home, say) the parse still succeeds; it is just repeated next time.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

from fromzero.files import write_atomically

CACHE_ENV = "FROMZERO_CACHE"


def cache_dir() -> Path:
    """The folder cached files go to (it may not exist yet)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fromzero"


def cached_sentences(name: str, build: Callable[[], list[list[str]]]) -> list[list[str]]:
    """Tokenised sentences stored under ``name``: read from the cache, or built and then stored.

    The file is gzip-compressed text, one sentence a line, tokens joined by single spaces, so
    ``name`` must change whenever ``build`` would produce different tokens (put a version in it).
    Tokens must not contain whitespace, which holds for :func:`~fromzero.data.text.tokenize_simple`.
    """
    path = cache_dir() / f"{name}.txt.gz"
    cached = _read_sentences(path)
    if cached is not None:
        return cached
    sentences = build()
    _write_atomically(path, "\n".join(" ".join(tokens) for tokens in sentences))
    return sentences


def _read_sentences(path: Path) -> list[list[str]] | None:
    """The sentences cached in ``path``, or ``None`` when it is missing or unreadable (then rebuilt)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, EOFError, UnicodeDecodeError):
        return None
    return [line.split(" ") for line in text.split("\n")] if text else []


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` gzip-compressed to ``path`` whole or not at all; an unwritable cache is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text, compress=True)
    except OSError:
        return  # an unwritable cache only costs a repeated parse next time
