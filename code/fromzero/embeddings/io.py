"""Word vectors on disk in the word2vec text format, the one file every embedding tool reads.

The first line is ``N D`` (how many words, how many dimensions); each of the ``N`` lines after it
is a word and its ``D`` numbers, separated by spaces. gensim reads it with
``KeyedVectors.load_word2vec_format(path)``; so do fastText, spaCy and most visualisers. Numbers
are written with nine significant digits, enough for every float32 to read back exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fromzero.data.readers import read_lines
from fromzero.embeddings.options import WordVectors
from fromzero.errors import InputError
from fromzero.files import write_atomically

_NUMBER_FORMAT = "%.9g"  # float32 needs 9 significant digits to round-trip


def save_word2vec_format(vectors: WordVectors, path: str | Path) -> None:
    """Write ``vectors`` to ``path`` in the word2vec text format (UTF-8)."""
    for word in vectors.words:
        if not word or any(character.isspace() for character in word):
            raise InputError(f"cannot save the word {word!r}: the word2vec text format separates fields by spaces")
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError(f"{path}: the folder {path.parent} does not exist")
    rows, dim = vectors.vectors.shape
    number_fields = " ".join([_NUMBER_FORMAT] * dim)
    table = np.asarray(vectors.vectors, dtype=np.float32)
    lines = [f"{word} {number_fields % tuple(row)}" for word, row in zip(vectors.words, table.tolist(), strict=True)]
    try:
        write_atomically(path, f"{rows} {dim}\n" + "\n".join(lines) + "\n")
    except OSError as error:
        raise InputError(f"{path}: cannot be written ({error.strerror or error})") from None


def load_word2vec_format(path: str | Path) -> WordVectors:
    """Read a word2vec text file (as written by :func:`save_word2vec_format`, gensim or word2vec.c).

    Anything else (a binary file, a missing or wrong header, a line with the wrong number of
    fields, a field that is not a number, a vector that is not finite, a word listed twice) raises
    :class:`~fromzero.errors.InputError` naming the file and the line.
    """
    lines = [line for line in read_lines(path) if line.strip()]
    if not lines:
        raise InputError(f"{path}: empty file, expected a word2vec text header 'N D' on line 1")
    rows, dim = _header(path, lines[0])
    body = lines[1:]
    if len(body) != rows:
        raise InputError(f"{path}: the header announces {rows} words but {len(body)} lines follow it")
    words, table, first_line = [], np.empty((rows, dim), dtype=np.float32), {}
    for number, line in enumerate(body, start=2):
        fields = line.split()
        if len(fields) != dim + 1:
            raise InputError(f"{path}, line {number}: {len(fields)} fields, expected a word and {dim} numbers")
        try:
            values = np.asarray(fields[1:], dtype=np.float64)
        except ValueError:
            raise InputError(f"{path}, line {number}: the fields after the word are not all numbers") from None
        if not (np.abs(values) <= np.finfo(np.float32).max).all():  # nan, inf, or too large for float32
            raise InputError(f"{path}, line {number}: the vector of {fields[0]!r} is not finite (nan or inf)")
        if fields[0] in first_line:
            raise InputError(f"{path}, line {number}: {fields[0]!r} already has a vector, on line "
                             f"{first_line[fields[0]]}")
        first_line[fields[0]] = number
        table[number - 2] = values
        words.append(fields[0])
    return WordVectors(words, table)


def _header(path: str | Path, line: str) -> tuple[int, int]:
    fields = line.split()
    if len(fields) != 2 or not all(field.isdigit() for field in fields) or int(fields[1]) < 1:
        raise InputError(
            f"{path}, line 1: {line[:40]!r} is not a word2vec text header 'N D' (number of words, dimensions)"
        )
    return int(fields[0]), int(fields[1])
