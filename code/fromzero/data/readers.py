"""Readers for the reader's own files: a sentence corpus, a labelled TSV, a CoNLL NER file.

The command line hands these whatever path a reader typed, so every problem (no such file, a
folder, bytes that are not UTF-8, a missing column, a malformed line, nothing in the file) raises
:class:`~fromzero.errors.InputError` naming the file, the problem and, where it helps, the line.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from fromzero.errors import InputError, InputWarning

if TYPE_CHECKING:
    import pandas as pd

BIO_TAG = re.compile(r"O|[BI]-\S+")
DOCSTART = "-DOCSTART-"
_BOM = b"\xef\xbb\xbf"


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (a leading byte-order mark and ``\\r\\n`` or ``\\r`` line ends tolerated)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    body = raw[len(_BOM) :] if raw.startswith(_BOM) else raw
    if b"\0" in body:
        number = body[: body.index(b"\0")].count(b"\n") + 1
        raise InputError(f"{path}: contains NUL bytes (the first on line {number}): a binary file, not text")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + len(raw) - len(body)
        number = raw[:offset].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text: byte 0x{raw[offset]:02x} at offset {offset} (line {number}); save it as UTF-8"
        ) from None
    return re.split(r"\r\n|\r|\n", text)  # Windows, old Mac and Unix line ends alike


def read_sentences(path: str | Path) -> list[list[str]]:
    """A corpus file: one sentence per line, tokens separated by whitespace, blank lines skipped.

    The tokens are taken as they are (no lower-casing), so a corpus prepared elsewhere stays as it was.
    """
    sentences = [line.split() for line in read_lines(path) if line.strip()]
    if not sentences:
        raise InputError(f"{path}: empty corpus: no tokens found")
    return sentences


def read_tsv(path: str | Path, text_column: str = "text", label_column: str | None = "label") -> pd.DataFrame:
    """A tab-separated file with a header row, returned with columns ``text`` and ``label``.

    The columns are renamed so that later code has one spelling; ``label_column=None`` reads
    unlabelled text (for prediction) and returns the ``text`` column alone. Fields are taken
    literally (no quoting): a text cannot contain a tab or a line break. Every row must have as many
    fields as the header, and no text or label may be empty.
    """
    lines = read_lines(path)
    if not lines[0].strip():
        raise InputError(f"{path}: line 1 is empty; it must be the header row naming the columns")
    header = [name.strip() for name in lines[0].split("\t")]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: the header row (line 1) names the column {repeated[0]!r} twice")
    wanted = [text_column] if label_column is None else [text_column, label_column]
    missing = [name for name in wanted if name not in header]
    if missing:
        found = ", ".join(repr(name[:40]) for name in header[:10]) + (", ..." if len(header) > 10 else "")
        raise InputError(f"{path}: no column {missing[0]!r} in the header row (line 1); columns found: {found}")
    positions = [header.index(name) for name in wanted]
    rows = [_tsv_row(path, number, line, header, positions) for number, line in enumerate(lines[1:], 2) if line.strip()]
    if not rows:
        raise InputError(f"{path}: no data rows after the header")
    import pandas as pd  # here, not at the top: reading a plain text corpus should not wait for pandas

    return pd.DataFrame(rows, columns=["text", "label"][: len(wanted)])


def _tsv_row(path: str | Path, number: int, line: str, header: list[str], positions: list[int]) -> list[str]:
    """The wanted, stripped cells of one TSV data line, checked for field count and emptiness."""
    cells = line.split("\t")
    if len(cells) != len(header):
        raise InputError(f"{path}, line {number}: {len(cells)} tab-separated fields, the header has {len(header)}")
    values = [cells[position].strip() for position in positions]
    for position, value in zip(positions, values, strict=True):
        if not value:
            raise InputError(f"{path}, line {number}: empty {header[position]!r} cell")
    return values


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """A CoNLL-style NER file as ``(tokens, tags)`` pairs, one per sentence.

    Each line holds a token in the first column and its BIO tag (``O``, ``B-TYPE``, ``I-TYPE``) in the
    last, separated by tabs or spaces (middle columns, such as CoNLL-2003's part-of-speech tags, are
    ignored). A blank line ends a sentence; ``-DOCSTART-`` lines are skipped. A token with a space in
    a tab-separated file is refused (a space separates columns), and an ``I-`` tag that starts an
    entity (no ``B-`` or ``I-`` of its type before it) is counted in a warning: it is read as starting
    the entity, as seqeval reads it.
    """
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    orphans: list[int] = []  # lines of I- tags that open an entity
    for number, line in enumerate(read_lines(path), 1):
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
            continue
        token, tag = _conll_columns(path, number, line, columns)
        if tag.startswith("I-") and (not tags or tags[-1][2:] != tag[2:]):
            orphans.append(number)
        tokens.append(token)
        tags.append(tag)
    if tokens:
        sentences.append((tokens, tags))
    if not sentences:
        raise InputError(f"{path}: no sentences found (expected lines of 'token<TAB>tag')")
    if orphans:
        warnings.warn(f"{path}: {len(orphans)} I- tag(s) open an entity without its B- tag (the first on line "
                      f"{orphans[0]}); read as starting the entity", InputWarning, stacklevel=2)
    return sentences


def _conll_columns(path: str | Path, number: int, line: str, columns: list[str]) -> tuple[str, str]:
    """The token and the validated BIO tag of one CoNLL line."""
    if "\t" in line and " " in line.split("\t")[0].strip():
        raise InputError(f"{path}, line {number}: the token {line.split(chr(9))[0].strip()!r} contains a space; "
                         "put one token on each line")
    if len(columns) < 2:
        raise InputError(f"{path}, line {number}: one column {columns[0]!r}; expected a token and a BIO tag")
    tag = columns[-1]
    if not BIO_TAG.fullmatch(tag):
        raise InputError(f"{path}, line {number}: tag {tag!r} is not O, B-TYPE or I-TYPE")
    return columns[0], tag
