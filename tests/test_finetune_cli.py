"""``python -m fromzero finetune`` and ``predict``: help, the JSON contracts, saved models, and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, child_cpu_seconds

POSITIVE = ["what a wonderful film", "a great and moving story", "brilliant acting", "i loved every minute"]
NEGATIVE = ["a boring mess", "dull and far too long", "terrible script", "i hated every minute"]
NER_TRAIN = "alice\tB-PER\nmet\tO\nbob\tB-PER\n\nwe\tO\nsaw\tO\nalice\tB-PER\nsmith\tI-PER\n\n" \
            "-DOCSTART-\tO\n\nparis\tB-LOC\nis\tO\nbig\tO\n"
NER_EVAL = "bob\tB-PER\nvisited\tO\nparis\tB-LOC\n"


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # One thread: pytest runs two workers on two cores, and two OpenMP threads per process would wait on each other.
    return subprocess.run(
        [sys.executable, "-m", "fromzero", *args], capture_output=True, text=True, timeout=240, check=False,
        input=stdin, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def write_tsv(path: Path, rows: list[tuple[str, str]], header: str = "text\tlabel") -> Path:
    path.write_text(header + "\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return path


@pytest.fixture
def tsv_pair(tmp_path: Path) -> tuple[Path, Path]:
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    train = write_tsv(tmp_path / "train.tsv", rows)
    held_out = write_tsv(tmp_path / "eval.tsv", [("a wonderful story", "positive"), ("a dull mess", "negative")])
    return train, held_out


@pytest.mark.parametrize("command", [["finetune"], ["finetune", "classify"], ["finetune", "ner"], ["predict"]])
def test_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m fromzero")


def test_classify_prints_the_json_contract_and_saves_a_model_predict_can_use(tsv_pair, tmp_path: Path) -> None:
    train, held_out = tsv_pair
    output = tmp_path / "model"
    result = run_cli("finetune", "classify", "--model", "small", "--train", str(train), "--eval", str(held_out),
                     "--epochs", "1", "--max-length", "32", "--batch-size", "4", "--output", str(output))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0 <= summary["accuracy"] <= 1 and 0 <= summary["macro_f1"] <= 1 and summary["seconds"] > 0
    assert set(summary["per_class"]) == {"negative", "positive"}
    assert summary["per_class"]["positive"]["support"] == 1
    from transformers import AutoConfig

    assert set(AutoConfig.from_pretrained(output).label2id) == {"negative", "positive"}
    predicted = run_cli("predict", "--model", str(output), "a wonderful story", "a dull mess")
    assert predicted.returncode == 0, predicted.stderr
    records = [json.loads(line) for line in predicted.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["a wonderful story", "a dull mess"]
    assert all(r["label"] in {"negative", "positive"} and 0.5 <= r["score"] <= 1 for r in records)
    from_stdin = run_cli("predict", "--model", str(output), stdin="first line\n\nsecond line\n")
    assert len(from_stdin.stdout.strip().splitlines()) == 2
    assert_one_line_error(run_cli("predict", "--model", str(output), stdin=""), "no text")
    binary = subprocess.run([sys.executable, "-m", "fromzero", "predict", "--model", str(output)],
                            input=b"\xff\xfe not text\n", capture_output=True, timeout=240, check=False)
    assert_one_line_error(subprocess.CompletedProcess(binary.args, binary.returncode, binary.stdout.decode(),
                                                      binary.stderr.decode()), "standard input is not UTF-8")
    broken = shutil.copytree(output, tmp_path / "broken")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # cut short by a crash or a full disk
    assert_one_line_error(run_cli("predict", "--model", str(broken), "text"), "cannot load")
    weights.unlink()
    (broken / "pytorch_model.bin").write_bytes(b"a pickle")  # never unpickled: it could run code
    assert_one_line_error(run_cli("predict", "--model", str(broken), "text"), "no model.safetensors")


def test_ner_prints_the_json_contract_and_predict_tags_entities(tmp_path: Path) -> None:
    train, held_out, output = tmp_path / "train.conll", tmp_path / "eval.conll", tmp_path / "tagger"
    train.write_text(NER_TRAIN, encoding="utf-8")
    held_out.write_text(NER_EVAL, encoding="utf-8")
    result = run_cli("finetune", "ner", "--model", "small", "--train", str(train), "--eval", str(held_out),
                     "--epochs", "1", "--max-length", "32", "--output", str(output))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"precision", "recall", "f1", "per_type", "seconds"} <= set(summary)
    assert set(summary["per_type"]) <= {"LOC", "PER"} and summary["per_type"]["PER"]["support"] == 1
    predicted = run_cli("predict", "--model", str(output), "alice visited paris")
    record = json.loads(predicted.stdout.strip())
    assert record["tokens"] == ["alice", "visited", "paris"] and len(record["tags"]) == 3
    assert all(entity["type"] in {"LOC", "PER"} for entity in record["entities"])


def test_ner_scores_and_saves_whole_sentences_longer_than_the_training_length(tmp_path: Path) -> None:
    """Training cuts at --max-length 8 (6 words and [CLS], [SEP]); the 30-word eval sentence must be scored whole.

    Every training word is a name, so the tagger learns to tag every word B-PER. Scored at the training length,
    the 24 words past the cut would be tagged O, and recall could not exceed 6 / 30.
    """
    names = ["alice", "bob", "carol", "dave", "emma", "frank", "grace", "henry"]
    train, held_out, output = tmp_path / "train.conll", tmp_path / "eval.conll", tmp_path / "tagger"
    train.write_text("\n".join("".join(f"{name}\tB-PER\n" for name in (names[i:] + names[:i])[:4]) for i in range(8)),
                     encoding="utf-8")
    held_out.write_text("".join(f"{names[i % 8]}\tB-PER\n" for i in range(30)), encoding="utf-8")
    result = run_cli("finetune", "ner", "--model", "small", "--train", str(train), "--eval", str(held_out),
                     "--epochs", "3", "--max-length", "8", "--batch-size", "4", "--head-lr", "1e-2",
                     "--output", str(output))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["per_type"]["PER"]["support"] == 30
    assert summary["recall"] > 0.5, summary
    long_text = " ".join(names[i % 8] for i in range(30))
    record = json.loads(run_cli("predict", "--model", str(output), long_text).stdout.strip())
    assert len(record["entities"]) > 6, record["tags"]


@pytest.mark.parametrize(
    ("train_text", "eval_text", "fragments"),
    [
        ("sentence\tlabel\nhello\tpos\nbye\tneg\n", None, ["train.tsv", "'text'"]),
        ("", None, ["train.tsv", "empty"]),
        ("text\tlabel\nhello\tpos\nbye\tpos\n", None, ["train.tsv", "single label", "'pos'"]),
        (None, "text\tlabel\nso so\tneutral\n", ["eval.tsv", "'neutral'", "training data"]),
    ],
    ids=["missing-column", "empty-file", "single-label", "unseen-eval-label"],
)
def test_bad_classification_input_exits_2(tsv_pair, train_text, eval_text, fragments) -> None:
    train, held_out = tsv_pair
    if train_text is not None:
        train.write_text(train_text, encoding="utf-8")
    if eval_text is not None:
        held_out.write_text(eval_text, encoding="utf-8")
    result = run_cli("finetune", "classify", "--model", "small", "--train", str(train), "--eval", str(held_out))
    assert_one_line_error(result, *fragments)


@pytest.mark.parametrize(
    ("train_text", "eval_text", "fragments"),
    [
        ("alice\tB-PER\nmet\n", NER_EVAL, ["train.conll", "line 2", "one column"]),
        ("alice\tO\nmet\tO\n", NER_EVAL, ["train.conll", "no entities"]),
        ("alice\tB-PER\n", NER_EVAL, ["eval.conll", "'LOC'"]),
        ("\n\n", NER_EVAL, ["train.conll", "no sentences"]),
    ],
    ids=["token-without-tag", "no-entities", "unseen-eval-type", "empty-file"],
)
def test_bad_ner_input_exits_2(tmp_path: Path, train_text, eval_text, fragments) -> None:
    train, held_out = tmp_path / "train.conll", tmp_path / "eval.conll"
    train.write_text(train_text, encoding="utf-8")
    held_out.write_text(eval_text, encoding="utf-8")
    result = run_cli("finetune", "ner", "--model", "small", "--train", str(train), "--eval", str(held_out))
    assert_one_line_error(result, *fragments)


def test_bad_options_exit_2(tsv_pair) -> None:
    train, held_out = tsv_pair
    common = ["finetune", "classify", "--model", "small", "--train", str(train), "--eval", str(held_out)]
    assert_one_line_error(run_cli(*common, "--freeze", "bottom"), "--freeze", "top:N")
    assert_one_line_error(run_cli(*common, "--lora", "--freeze", "top:2"), "--lora")
    assert_one_line_error(run_cli(*common, "--epochs", "0"), "--epochs")
    assert_one_line_error(run_cli(*common, "--max-length", "1000"), "max_length 1000")
    cpu_before = child_cpu_seconds()
    assert_one_line_error(run_cli(*common, "--output", str(train)), "--output", "given to --train")
    assert child_cpu_seconds() - cpu_before < 30  # refused before training: importing torch is most of it


def test_missing_model_folder_and_offline_hub_name(tsv_pair, tmp_path: Path) -> None:
    train, held_out = tsv_pair
    common = ["finetune", "classify", "--train", str(train), "--eval", str(held_out)]
    assert_one_line_error(run_cli(*common, "--model", str(tmp_path / "nowhere") + "/"), "no such model folder")
    started, cpu_before = time.perf_counter(), child_cpu_seconds()
    offline = run_cli(*common, "--model", "bert-base-uncased", env={"HF_HUB_OFFLINE": "1"})
    assert_one_line_error(offline, "bert-base-uncased", "no network", code=1)
    assert child_cpu_seconds() - cpu_before < 30  # no work done before the check
    assert time.perf_counter() - started < 90  # and no wait for a network (a busy CI machine took 39 s to start)
    assert_one_line_error(run_cli("predict", "--model", str(tmp_path), "hello"), "config.json")
