"""The command-line argument types accept what they promise and reject the rest with a message naming the value."""

from __future__ import annotations

import argparse
import re

import pytest

from fromzero import argtypes


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (argtypes.positive_int, "3", 3),
        (argtypes.count, "0", 0),
        (argtypes.positive_float, "5e-5", 5e-5),
        (argtypes.non_negative_float, "0", 0.0),
        (argtypes.fraction, "0.1", 0.1),
        (argtypes.seed, "4294967295", 2**32 - 1),
        (argtypes.minutes, "0.05", 0.05),
    ],
)
def test_accepts_valid_values(parse, text: str, expected: float) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (argtypes.positive_int, "0", "at least 1"),
        (argtypes.positive_int, "2.5", "whole number"),
        (argtypes.count, "-1", "0 or more"),
        (argtypes.positive_float, "0", "positive"),
        (argtypes.positive_float, "inf", "finite"),
        (argtypes.non_negative_float, "-1e-3", "non-negative"),
        (argtypes.non_negative_float, "nan", "finite"),
        (argtypes.fraction, "1", "[0, 1)"),
        (argtypes.fraction, "abc", "a number"),
        (argtypes.seed, "-1", "from 0 to 4294967295"),
        (argtypes.seed, "4294967296", "from 0 to"),
        (argtypes.minutes, "0.001", "at least 0.05 minutes"),
    ],
)
def test_rejects_invalid_values_naming_them(parse, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)) as raised:
        parse(text)
    assert text in str(raised.value), "the message must name the rejected value"


def test_argparse_turns_a_bad_value_into_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=argtypes.positive_int)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--epochs", "0"])
    assert exited.value.code == 2
    assert "expected a number of at least 1, got 0" in capsys.readouterr().err
