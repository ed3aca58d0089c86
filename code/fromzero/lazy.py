"""Packages whose names import their module on first use (PEP 562), so that a command pays only for what it uses."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package``: name ``n`` comes from ``package.<exports[n]>``.

    ``python -m fromzero --help`` then imports neither torch nor pandas, and reading a text corpus
    does not wait for the modules that load datasets.
    """

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
