"""The command line: help everywhere, and bad input ends in exit code 2 with one line naming the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fromzero", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("command", [[], ["device"], ["data"], ["data", "check"], ["data", "scale"]])
def test_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m fromzero")


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("fromzero ")


def test_unknown_option_exits_2() -> None:
    assert_one_line_error(run_cli("data", "check", "x.txt", "--colour", "red"), "unrecognized arguments: --colour")


def test_unknown_command_exits_2() -> None:
    assert_one_line_error(run_cli("embedd"), "invalid choice: 'embedd'")


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    assert_one_line_error(run_cli("data", "check", str(missing)), str(missing))


def test_empty_corpus_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert_one_line_error(run_cli("data", "check", str(empty)), str(empty), "empty")


def test_not_utf8_exits_2(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    assert_one_line_error(run_cli("data", "check", str(latin)), str(latin), "UTF-8")


def test_wrong_columns_exits_2(tmp_path: Path) -> None:
    table = tmp_path / "train.tsv"
    table.write_text("sentence\tlabel\nhello\tpos\n", encoding="utf-8")
    assert_one_line_error(run_cli("data", "check", "--format", "tsv", str(table)), str(table), "text")


def test_bad_bio_tag_exits_2(tmp_path: Path) -> None:
    conll = tmp_path / "train.conll"
    conll.write_text("Paris\tB-LOC\nis\tX-BAD\n", encoding="utf-8")
    assert_one_line_error(run_cli("data", "check", "--format", "conll", str(conll)), str(conll), "line 2")


def test_unavailable_device_exits_2() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so asking for one is not an error")
    assert_one_line_error(run_cli("device", "--device", "cuda"), "cuda")


def test_check_summarises_a_good_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat\nthe dog ran away\n", encoding="utf-8")
    result = run_cli("data", "check", str(corpus))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"format": "text", "sentences": 2, "tokens": 7, "types": 6}


def test_check_summarises_a_tsv(tmp_path: Path) -> None:
    table = tmp_path / "train.tsv"
    table.write_text("text\tlabel\ngood film\tpos\nbad film\tneg\nfine\tpos\n", encoding="utf-8")
    result = run_cli("data", "check", "--format", "tsv", str(table))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"format": "tsv", "rows": 3, "labels": {"neg": 1, "pos": 2}}


def test_scale_defaults_to_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FROMZERO_SCALE", raising=False)
    result = run_cli("data", "scale")
    assert result.returncode == 0
    assert result.stdout.strip() == "small"


@pytest.mark.parametrize(
    ("statement", "not_imported"),
    [
        ("import fromzero.cli", ("torch", "pandas")),  # --help answers at once
        ("from fromzero.data.readers import read_sentences", ("torch", "pandas")),  # embed train reads quickly
        ("from fromzero.transformer.gpt import GPTConfig", ("pandas",)),
    ],
)
def test_light_modules_leave_heavy_packages_unimported(statement: str, not_imported: tuple[str, ...]) -> None:
    check = f"import sys; {statement}; print(sorted(m for m in {not_imported!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
