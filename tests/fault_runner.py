"""Run ``python -m fromzero ARGS`` and hold it still at one moment, so that a test can kill it exactly there.

usage: python fault_runner.py POINT PREFIX [SKIP] -- ARGS...

POINT is the moment, for a file or folder under PREFIX (the SKIP first such moments pass, default 0):

    train    the command starts training (``fit`` is called)
    sync     a new file is complete in its temporary file, not yet flushed to disk nor renamed
    rename   a temporary file or folder is about to take its target's place

At that moment the runner writes ``POINT: PATH`` to the file named by the environment variable
``FAULT_MARKER`` and sleeps until a signal ends it. Everything else is the command line itself (``fromzero.cli.main``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import fromzero.files as files
import fromzero.train as train
from fromzero.cli import main


def hold(point: str, path: object) -> None:
    Path(os.environ["FAULT_MARKER"]).write_text(f"{point}: {os.fsdecode(path)}")  # the test waits for this file
    while True:
        time.sleep(60)


def install(point: str, prefix: Path, skip: int) -> None:
    """Wrap the function that marks ``point`` so that it holds at the (skip + 1)-th match under ``prefix``."""
    seen = 0

    def matches(name: str, path: object) -> bool:
        nonlocal seen
        if name != point or not str(Path(os.fsdecode(path)).resolve()).startswith(str(prefix)):
            return False
        seen += 1
        return seen > skip

    fsync, replace, exchange, fit = os.fsync, os.replace, files.exchange_paths, train.fit

    def held_fsync(descriptor: int) -> None:
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        if matches("sync", path):
            hold("sync", path)
        fsync(descriptor)

    def held_replace(source: Any, target: Any, **kwargs: Any) -> None:
        if matches("rename", target):
            hold("rename", target)
        replace(source, target, **kwargs)

    def held_exchange(first: Path, second: Path) -> bool:
        if matches("rename", second):
            hold("rename", second)
        return exchange(first, second)

    def held_fit(*args: Any, **kwargs: Any) -> Any:
        if matches("train", prefix):
            hold("train", prefix)
        return fit(*args, **kwargs)

    os.fsync, os.replace, files.exchange_paths, train.fit = held_fsync, held_replace, held_exchange, held_fit


if __name__ == "__main__":
    separator = sys.argv.index("--")
    point, prefix, *rest = sys.argv[1:separator]
    install(point, Path(prefix).resolve(), int(rest[0]) if rest else 0)
    sys.exit(main(sys.argv[separator + 1:]))
