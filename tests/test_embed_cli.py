"""``python -m fromzero embed``: train then evaluate, the output contract, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

from fromzero.embeddings.io import load_word2vec_format, save_word2vec_format
from fromzero.embeddings.options import WordVectors
from fromzero.errors import InputError


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fromzero", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fromzero.data.sources import load_lee_background

    path = tmp_path_factory.mktemp("embed") / "lee.txt"
    path.write_text("\n".join(" ".join(tokens) for tokens in load_lee_background()) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["embed"], ["embed", "train"], ["embed", "evaluate"]])
def test_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m fromzero embed")


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_train_then_evaluate(method: str, corpus: Path, tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    out = tmp_path / "vectors.txt"
    common = ["--corpus", str(corpus), "--out", str(out), "--dim", "24", "--epochs", "1", "--min-count", "3"]
    trained = run_cli("embed", "train", "--method", method, *common, "--seed", "1", "--device", "cpu")
    assert trained.returncode == 0, trained.stderr
    assert "words/s" in trained.stdout
    rows, dim = map(int, out.read_text(encoding="utf-8").split("\n", 1)[0].split())
    assert dim == 24
    keyed = KeyedVectors.load_word2vec_format(str(out))
    assert len(keyed) == rows and keyed.vector_size == 24
    assert keyed.index_to_key[0] == "the"  # most frequent first

    evaluated = run_cli("embed", "evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert list(summary) == ["wordsim353", "simlex999", "analogy", "oov_rate"]
    assert all(isinstance(summary[key], float) for key in summary)
    assert -1 <= summary["wordsim353"] <= 1 and -1 <= summary["simlex999"] <= 1
    assert 0 <= summary["analogy"] <= 1 and 0 < summary["oov_rate"] < 1
    assert any("capital-common-countries" in line for line in lines)  # the per-section table


def test_word2vec_format_round_trips_through_gensim(tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    vectors = WordVectors(["the", "café", "naïve"], np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32))
    path = tmp_path / "vectors.txt"
    save_word2vec_format(vectors, path)
    keyed = KeyedVectors.load_word2vec_format(str(path))
    assert keyed.index_to_key == vectors.words
    np.testing.assert_array_equal(keyed.vectors, vectors.vectors)  # nine digits: float32 exactly
    keyed.save_word2vec_format(str(tmp_path / "from_gensim.txt"))
    again = load_word2vec_format(tmp_path / "from_gensim.txt")
    assert again.words == vectors.words
    np.testing.assert_array_equal(again.vectors, vectors.vectors)


def test_saving_a_word_with_a_space_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="separates fields by spaces"):
        save_word2vec_format(WordVectors(["new york"], np.zeros((1, 2))), tmp_path / "v.txt")


def test_empty_corpus_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    result = run_cli("embed", "train", "--method", "sgns", "--corpus", str(empty), "--out", str(tmp_path / "v.txt"))
    assert_one_line_error(result, str(empty), "empty")


def test_no_word_above_min_count_exits_2(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("a b c\nd e f\n", encoding="utf-8")
    result = run_cli("embed", "train", "--method", "sgns", "--corpus", str(small), "--out", str(tmp_path / "v.txt"))
    assert_one_line_error(result, "min_count=5")


def test_not_utf8_corpus_exits_2(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    result = run_cli("embed", "train", "--method", "cbow", "--corpus", str(latin), "--out", str(tmp_path / "v.txt"))
    assert_one_line_error(result, str(latin), "UTF-8")


def test_missing_corpus_and_bad_options_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    assert_one_line_error(
        run_cli("embed", "train", "--method", "sgns", "--corpus", str(missing), "--out", "v.txt"), "no such file"
    )
    assert_one_line_error(
        run_cli("embed", "train", "--method", "w2v", "--corpus", "c.txt", "--out", "v.txt"), "invalid choice"
    )
    assert_one_line_error(
        run_cli("embed", "train", "--method", "sgns", "--corpus", "c.txt", "--out", "v.txt", "--dim", "0"), "--dim"
    )
    assert_one_line_error(
        run_cli("embed", "train", "--method", "sgns", "--corpus", "c.txt", "--out", "v.txt", "--workers", "0"),
        "--workers",
    )


def test_one_worker_makes_the_run_repeatable(corpus: Path, tmp_path: Path) -> None:
    common = ["--method", "sgns", "--corpus", str(corpus), "--dim", "16", "--epochs", "1", "--device", "cpu"]
    for name in ("first.txt", "again.txt"):
        result = run_cli("embed", "train", *common, "--workers", "1", "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "first.txt").read_bytes() == (tmp_path / "again.txt").read_bytes()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty file"),
        (b"the 0.1 0.2\n", "not a word2vec text header"),
        (b"2 3\nthe 0.1 0.2 0.3\n", "announces 2 words but 1 lines"),
        (b"1 3\nthe 0.1 0.2\n", "line 2: 3 fields"),
        (b"1 2\nthe 0.1 abc\n", "line 2: the fields after the word are not all numbers"),
        (b"3 2\n\x00\x9f\x92\xff\x01", "contains NUL bytes"),
        (b"3 2\nthe\x9f\x92\xff\x01", "not UTF-8"),
        (b"2 2\nthe nan 0.2\nof 0.1 0.2\n", "line 2: the vector of 'the' is not finite"),
        (b"1 2\nthe 1e39 0.2\n", "line 2: the vector of 'the' is not finite"),
        (b"2 2\nthe 0.1 0.2\nthe 0.3 0.4\n", "line 3: 'the' already has a vector, on line 2"),
    ],
)
def test_vectors_file_of_the_wrong_format_exits_2(content: bytes, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        load_word2vec_format(path)
    if fragment == "not a word2vec text header":  # the command line says the same, in one line
        assert_one_line_error(run_cli("embed", "evaluate", str(path)), str(path), fragment)


def test_train_refuses_to_overwrite_its_corpus_and_checks_out_before_training(corpus: Path, tmp_path: Path) -> None:
    before = corpus.read_bytes()
    train = ("embed", "train", "--method", "sgns", "--corpus", str(corpus))
    assert_one_line_error(run_cli(*train, "--out", str(corpus)),
                          "--out", "--corpus")
    assert corpus.read_bytes() == before
    for out, problem in ((tmp_path, "is a folder"), (tmp_path / "missing" / "v.txt", "does not exist")):
        assert_one_line_error(run_cli(*train, "--out", str(out)), "--out", problem)


def test_under_torchrun_only_process_zero_trains_and_writes(corpus: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from fromzero.cli import main

    out = tmp_path / "vectors.txt"
    command = ["embed", "train", "--method", "sgns", "--corpus", str(corpus), "--out", str(out), "--epochs", "1",
               "--workers", "1"]
    monkeypatch.setenv("RANK", "1")  # what torchrun gives the second process
    assert main(command) == 0
    assert not out.exists() and capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert main(command) == 0
    assert load_word2vec_format(out).vectors.shape[1] == 100 and "vectors written to" in capsys.readouterr().out
