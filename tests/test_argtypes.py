"""Command-line options: the argument types accept what they promise, and options declared once reach argparse."""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import dataclass

import pytest

from fromzero import argtypes
from fromzero.cli import build_parser


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


@dataclass
class Toy:
    corpus: str = argtypes.option(help="the text", metavar="PATH")
    rate: float = argtypes.option(0.5, type=argtypes.positive_float, help="a rate", group="tuning")
    size: int | None = argtypes.option(None, type=argtypes.positive_int, help="a size")
    fast: bool = argtypes.option(False, action="store_true", help="go fast")
    stride: int | None = argtypes.option(None, type=argtypes.positive_int, help="gpt only", only="gpt")
    progress: bool = True  # not an option


def toy_parser(variant: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    argtypes.add_options(parser, Toy, defaults={"size": 7}, variant=variant)
    return parser


def test_an_option_declared_once_is_parsed_into_its_dataclass() -> None:
    args = toy_parser().parse_args(["--corpus", "a.txt", "--rate", "0.25", "--fast"])
    assert argtypes.options_from(args, Toy, progress=False) == Toy("a.txt", 0.25, None, True, None, False)
    assert argtypes.options_from(toy_parser().parse_args(["--corpus", "b"]), Toy) == Toy("b")


def test_help_shows_the_defaults_and_the_variant_decides_which_options_exist(capsys) -> None:
    with pytest.raises(SystemExit):
        toy_parser().parse_args([])  # --corpus has no default: required
    assert "--corpus" in capsys.readouterr().err
    text = toy_parser().format_help()
    assert "a rate (0.5)" in text and "a size (7)" in text and "tuning:" in text
    assert "--progress" not in text and "--stride" not in text
    assert "--stride" in toy_parser("gpt").format_help()
    with pytest.raises(SystemExit):
        toy_parser().parse_args(["--corpus", "a", "--rate", "-1"])  # the field's type checks the value


@pytest.mark.parametrize(("command", "options"), [
    (["embed", "train", "--method", "sgns", "--corpus", "c", "--out", "o"], "embeddings.options:EmbedOptions"),
    (["finetune", "classify", "--model", "small", "--train", "t", "--eval", "e"], "finetune.options:FinetuneOptions"),
    (["pretrain", "gpt", "--corpus", "c", "--out", "o"], "transformer.options:PretrainOptions"),
])
def test_the_command_line_defaults_are_the_dataclass_defaults(command: list[str], options: str) -> None:
    module, name = options.split(":")
    cls = getattr(importlib.import_module(f"fromzero.{module}"), name)
    args = build_parser().parse_args(command)
    required = {"kind": "gpt", "corpus": "c", "out": "o"} if name == "PretrainOptions" else {}
    assert argtypes.options_from(args, cls) == cls(**required)
