"""Argument types for the command-line tools: each turns a string into a checked number or says why not.

argparse calls them and turns their ``ArgumentTypeError`` into a usage message and exit status 2, so a
bad option gives one clear line instead of a traceback from deep inside the training code.
"""

from __future__ import annotations

import argparse
import math


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


MIN_MINUTES = 0.05  # 3 seconds: less leaves no time to start, probe, train a step and score


def minutes(text: str) -> float:
    """A time limit in minutes, from 0.05 (3 seconds, the least a run can use) upwards."""
    value = positive_float(text)
    if value < MIN_MINUTES:
        raise argparse.ArgumentTypeError(
            f"expected at least {MIN_MINUTES} minutes (3 seconds: starting, a timed probe and one step), got {text}")
    return value
