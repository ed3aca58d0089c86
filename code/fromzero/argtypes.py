"""Command-line options: argument types, and options written once, as fields of the run's options dataclass.

The types turn a string into a checked number or say why not; argparse turns their
``ArgumentTypeError`` into a usage message and exit status 2, so a bad option gives one clear line
instead of a traceback from deep inside the training code.

An options dataclass declares each option once, with :func:`option`: its default, type, help and choices.
:func:`add_options` makes the argparse arguments from those fields and :func:`options_from` builds the
dataclass from the parsed arguments, so adding an option is one edit.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, field, fields
from typing import Any


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (epochs, dimensions, batch sizes)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return int(value)


def count(text: str) -> int:
    """A whole number of 0 or more (e.g. negative samples, where 0 is allowed)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return int(value)


def positive_float(text: str) -> float:
    """A finite number above 0 (learning rates, time limits)."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return float(value)


def non_negative_float(text: str) -> float:
    """A finite number of 0 or more (e.g. a subsampling threshold, where 0 switches it off)."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text}")
    return float(value)


def fraction(text: str) -> float:
    """A probability in [0, 1), such as a dropout rate."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return float(value)


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**32 - 1, the range NumPy and PyTorch both accept."""
    value = _number(text, int)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {2**32 - 1}, got {value}")
    return int(value)


MIN_MINUTES = 0.05  # 3 seconds: less leaves no time to start, train a step and score


def minutes(text: str) -> float:
    """A time limit in minutes, from 0.05 (3 seconds, the least a run can use) upwards."""
    value = positive_float(text)
    if value < MIN_MINUTES:
        raise argparse.ArgumentTypeError(
            f"expected at least {MIN_MINUTES} minutes (3 seconds: starting, one step and the score), got {text}")
    return value


def option(
    default: Any = MISSING,
    *,
    help: str,
    type: Callable[[str], Any] | None = None,
    choices: Sequence[str] | None = None,
    metavar: str | None = None,
    action: str | type[argparse.Action] | None = None,
    group: str | None = None,
    only: str | None = None,
) -> Any:
    """A dataclass field that is also the command-line option ``--name-with-dashes``.

    No ``default``: the option is required. ``only``: the option exists for that variant of the
    command alone (``gpt`` or ``bert`` for ``pretrain``). ``group``: its heading in ``--help``.
    """
    metadata = {"help": help, "type": type, "choices": choices, "metavar": metavar, "action": action,
                "group": group, "only": only}
    return field(metadata=metadata) if default is MISSING else field(default=default, metadata=metadata)


def add_options(
    parser: argparse.ArgumentParser, options: type, *, defaults: dict[str, Any] | None = None,
    variant: str | None = None,
) -> None:
    """Add an argument for every :func:`option` field of the dataclass ``options``.

    ``defaults`` are shown in the help for fields whose dataclass default is ``None`` because the
    real one depends on the variant (``pretrain gpt`` and ``pretrain bert`` differ).
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in fields(options):
        meta = spec.metadata
        if "help" not in meta or meta["only"] not in (None, variant):
            continue
        target = parser if meta["group"] is None else groups.get(meta["group"])
        if target is None:
            target = groups[meta["group"]] = parser.add_argument_group(meta["group"])
        arguments: dict[str, Any] = {"dest": spec.name, "help": _help(spec, (defaults or {}).get(spec.name))}
        if meta["action"] is not None:
            arguments["action"] = meta["action"]
        else:
            arguments.update(type=meta["type"], choices=meta["choices"], metavar=meta["metavar"])
        if spec.default is MISSING:
            arguments["required"] = True
        else:
            arguments["default"] = spec.default
        target.add_argument("--" + spec.name.replace("_", "-"), **arguments)


def options_from(args: argparse.Namespace, options: type, **fixed: Any) -> Any:
    """The dataclass ``options`` from parsed arguments: every field that the command line set, plus ``fixed``."""
    given = vars(args)
    return options(**{spec.name: given[spec.name] for spec in fields(options) if spec.name in given}, **fixed)


def _help(spec: Field, variant_default: Any) -> str:
    """The field's help, with its default in brackets where it has one (a switch says what it does instead)."""
    shown = spec.default if variant_default is None else variant_default
    if shown is None or shown is MISSING or isinstance(shown, bool) or spec.metadata["action"] is not None:
        return spec.metadata["help"]
    return f"{spec.metadata['help']} ({shown:g})" if isinstance(shown, float) else f"{spec.metadata['help']} ({shown})"
