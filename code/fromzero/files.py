"""Files written whole or not at all, and outputs that never overwrite inputs.

A run that is killed while it writes, or two runs that write the same output at once, must never
leave a file that is half old and half new, or empty. So every file the package writes goes first
to a temporary file in the same folder, named uniquely for this process, is flushed to disk, and
is then renamed over its target: on POSIX the rename is atomic, so a reader sees the old file or
the new one, never a mixture. A folder (a saved model) is built beside its target and swapped in
(on Linux in one atomic exchange). Of two runs that write one output at the same moment, the last
rename wins whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from fromzero.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Give a temporary path beside ``path`` to write to; on success it replaces ``path`` in one rename.

    If the block raises (or the process dies), ``path`` keeps its previous content and the temporary
    file is removed (or, after a kill, left as a hidden ``.name.*.partial`` file that nothing reads).
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: str | os.PathLike, content: str | bytes, *, compress: bool = False) -> None:
    """Write ``content`` (text as UTF-8; gzip-compressed if ``compress``) to ``path`` whole or not at all."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_path(path) as temporary:
        if compress:
            with gzip.open(temporary, "wb") as out:
                out.write(data)
        else:
            temporary.write_bytes(data)


@contextlib.contextmanager
def swapped_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Give an empty folder beside ``path`` to fill; on success it takes the place of ``path``.

    An existing folder at ``path`` is moved aside first and deleted after the swap, so a crash at any
    moment leaves either the complete old folder or the complete new one (and perhaps a hidden
    leftover beside it). Fails with :class:`InputError` if ``path`` is a file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file: name a folder to save into")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield new
        for written in sorted(new.rglob("*")):  # on disk before the swap, so a power cut cannot empty them
            if written.is_file():
                with open(written, "rb") as handle:
                    os.fsync(handle.fileno())
        if not (path.exists() and exchange_paths(new, path)):  # now ``new`` holds the old folder
            old = new.with_name(new.name.replace(".partial", ".old"))
            if path.exists():
                os.replace(path, old)  # without an atomic exchange, ``path`` is missing until the next line
            os.replace(new, path)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(new, ignore_errors=True)


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux's ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns False where the system or the file system cannot (macOS, Windows, old kernels), and the
    caller falls back to two renames.
    """
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_current_folder, rename_exchange = -100, 2
    return renameat2(at_current_folder, os.fsencode(first), at_current_folder, os.fsencode(second),
                     rename_exchange) == 0


def lock_folder(folder: str | os.PathLike, option: str) -> IO[str]:
    """Claim ``folder`` for this process until the returned file is closed; a second run is refused at once.

    Two runs resuming into one folder would interleave their checkpoints; the lock (``.lock`` inside the
    folder, released by the system when the process ends, even killed) makes the second one stop with
    a message instead.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / ".lock", "a+")  # noqa: SIM115 (held open for the whole run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise InputError(f"{option} {folder} is in use by another run ({owner}): wait for it, or choose another "
                         "folder") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}")
    handle.flush()
    return handle


def read_json(path: str | os.PathLike, keys: tuple[str, ...] = ()) -> dict:
    """The JSON object in ``path`` with ``keys``; a cut-short, edited or foreign file is an InputError naming it."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not readable as JSON ({error})") from None
    missing = [key for key in keys if not isinstance(content, dict) or key not in content]
    if missing:
        raise InputError(f"{path}: not a file fromzero wrote (no {', '.join(missing)})")
    return content


def check_output_file(path: str | os.PathLike, option: str, inputs: dict[str, str | os.PathLike]) -> Path:
    """Check before any work starts that ``path`` can be written and is none of ``inputs`` (option -> path)."""
    path = _not_an_input(path, option, inputs)
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder: name a file")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{option} {path}: the folder {folder} is not writable")
    return path


def check_output_folder(path: str | os.PathLike, option: str, inputs: dict[str, str | os.PathLike]) -> Path:
    """Check before any work starts that the folder ``path`` can be made or replaced and is none of ``inputs``."""
    path = _not_an_input(path, option, inputs)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file: name a folder to save into")
    parent = next((folder for folder in (path, *path.parents) if folder.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: {parent} is not writable")
    return path


def _not_an_input(path: str | os.PathLike, option: str, inputs: dict[str, str | os.PathLike]) -> Path:
    path = Path(path)
    for input_option, input_path in inputs.items():
        if _same_file(path, Path(input_path)):
            raise InputError(f"{option} {path} is the path given to {input_option}: write the output elsewhere")
    return path


def _same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()
