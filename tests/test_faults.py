"""Faults injected into every writing command: killed while training and while writing, junk checkpoints, races.

After each fault the earlier output is intact (or the new one complete), nothing visible is left beside it,
and running the command again finishes (``pretrain`` from its newest readable checkpoint). The runner
(``fault_runner.py``) holds a command at the chosen moment, so that the kill lands exactly there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import default_sigint, file_digests, last_json

from fromzero.checkpoint import load_checkpoint, newest_checkpoint
from fromzero.data.sources import load_bbc_news, load_lee_background
from fromzero.embeddings.io import load_word2vec_format
from fromzero.transformer.pretrain import load_pretrained

RUNNER = Path(__file__).with_name("fault_runner.py")
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
TINY_GPT = ["--dim", "32", "--layers", "1", "--heads", "2", "--context", "32", "--vocab-size", "300",
            "--batch-size", "8"]
EARLIER_VECTORS = "1 2\nearlier 0.5 0.5\n"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fromzero", *args], capture_output=True, text=True, timeout=240,
                          check=False, env=ENVIRONMENT)


def held(point: str, prefix: Path, *args: str, skip: int = 0) -> subprocess.Popen[str]:
    """Start ``python -m fromzero ARGS`` and return once it holds still at ``point`` (see fault_runner.py)."""
    marker = Path(tempfile.mkdtemp()) / "held"
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), point, str(prefix), str(skip), "--", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**ENVIRONMENT, "FAULT_MARKER": str(marker)},
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, stderr = process.communicate()
            raise AssertionError(f"the command never reached {point} under {prefix}:\n{stderr[-3000:]}")
        time.sleep(0.1)
    return process


def kill(process: subprocess.Popen[str], signal_number: int) -> str:
    """Send the signal; return standard error after checking the exit the signal should give."""
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    if signal_number == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 130, stderr[-3000:]
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1].startswith("fromzero: interrupted: "), stderr[-3000:]
    return stderr


def visible(folder: Path) -> list[str]:
    """What a user sees in ``folder``: hidden leftovers of a killed write (``.name.*.partial``) left out."""
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


def hidden(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".") and path.name != ".lock")


@pytest.fixture(scope="module")
def sentences(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "lee.txt"
    path.write_text("\n".join(" ".join(tokens) for tokens in load_lee_background()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "news.txt"
    path.write_text("\n\n".join(load_bbc_news()["text"].iloc[:30]), encoding="utf-8")
    return path


# embed train: one output file


@pytest.mark.parametrize("point", ["train", "sync", "rename"])
@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_embed_killed_keeps_the_earlier_vectors_and_reruns(sentences: Path, tmp_path: Path, point: str,
                                                           signal_number: int) -> None:
    out = tmp_path / "vectors.txt"
    out.write_text(EARLIER_VECTORS)
    command = ["embed", "train", "--method", "glove", "--corpus", str(sentences), "--out", str(out), "--dim", "16",
               "--epochs", "2"]  # glove trains through fit, where the 'train' point holds
    prefix = tmp_path if point == "train" else out.parent
    kill(held(point, prefix, *command), signal_number)
    assert out.read_text() == EARLIER_VECTORS
    assert visible(tmp_path) == ["vectors.txt"]
    if signal_number == signal.SIGINT:
        assert hidden(tmp_path) == []  # Ctrl-C cleans up its temporary file
    assert run_cli(*command).returncode == 0
    vectors = load_word2vec_format(out)
    assert len(vectors.words) > 100 and vectors.vectors.shape[1] == 16


def test_two_embed_runs_on_one_out_leave_one_complete_file(sentences: Path, tmp_path: Path) -> None:
    out = tmp_path / "vectors.txt"
    runs = [subprocess.Popen([sys.executable, "-m", "fromzero", "embed", "train", "--method", "sgns", "--corpus",
                              str(sentences), "--out", str(out), "--dim", str(dim), "--epochs", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENVIRONMENT)
            for dim in (8, 12)]
    for run in runs:
        _, stderr = run.communicate(timeout=240)
        assert run.returncode == 0, stderr[-2000:]
    vectors = load_word2vec_format(out)  # whole: the header's row count and every row's width agree
    assert vectors.vectors.shape[1] in (8, 12)
    assert visible(tmp_path) == ["vectors.txt"] and hidden(tmp_path) == []


# pretrain: a folder of metadata and checkpoints, resumed by the next run


def test_pretrain_killed_while_saving_a_checkpoint_resumes_from_the_one_before(news: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = ["pretrain", "gpt", "--corpus", str(news), "--out", str(out), "--max-steps", "12", *TINY_GPT]
    # renames: the checkpoint of step 2 (every 12 // 5 steps), its metrics file, then step 4's checkpoint: held there
    kill(held("rename", out / "checkpoints", *command, skip=2), signal.SIGKILL)
    assert newest_checkpoint(out / "checkpoints")[0] == 2  # the first checkpoint is whole
    assert visible(out / "checkpoints") == ["metrics.jsonl", "step-00000002.pt"]
    rerun = run_cli(*command)
    assert "resuming from step 2" in rerun.stdout
    assert last_json(rerun)["steps"] == 12
    model, _ = load_pretrained(out)
    assert load_checkpoint(out / "checkpoints", model)["step"] == 12


@pytest.mark.parametrize("name, earlier_writes", [("tokenizer.json", 0), ("run.json", 2)])
def test_pretrain_killed_while_writing_its_metadata_starts_afresh_cleanly(news: Path, tmp_path: Path, name: str,
                                                                        earlier_writes: int) -> None:
    out = tmp_path / "run"
    command = ["pretrain", "gpt", "--corpus", str(news), "--out", str(out), "--max-steps", "4", *TINY_GPT]
    kill(held("sync", out, *command, skip=earlier_writes), signal.SIGKILL)  # tokenizer, model, run: in that order
    assert name not in visible(out)
    for written in visible(out):
        json.loads((out / written).read_text())  # whatever was written before the kill is whole
    assert last_json(run_cli(*command))["steps"] == 4


def test_pretrain_interrupted_while_training_says_how_to_resume_and_resumes(news: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = ["pretrain", "gpt", "--corpus", str(news), "--out", str(out), "--max-steps", "4", *TINY_GPT]
    stderr = kill(held("train", tmp_path, *command), signal.SIGINT)
    assert "--out" in stderr.strip().splitlines()[-1]
    assert visible(out) == ["model.json", "run.json", "tokenizer.json"]
    assert last_json(run_cli(*command))["steps"] == 4


def test_pretrain_skips_junk_and_cut_short_checkpoints_and_leaves_them_alone(news: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = ["pretrain", "gpt", "--corpus", str(news), "--out", str(out), "--max-steps", "10", *TINY_GPT]
    last_json(run_cli(*command))  # checkpoints at steps 8 and 10 are kept
    newest = out / "checkpoints" / "step-00000010.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # cut short, as by a full disk
    junk = out / "checkpoints" / "step-99999999.pt"
    junk.write_bytes(b"not a checkpoint")
    rerun = run_cli(*command)
    assert "resuming from step 8" in rerun.stdout
    assert last_json(rerun)["steps"] == 10
    warnings = [line for line in rerun.stderr.splitlines() if "checkpoint" in line]
    assert warnings == [f"UserWarning: skipping unreadable checkpoint {newest}: cut short or corrupt "
                        "(PytorchStreamReader failed reading zip archive: failed finding central directory)",
                        f"UserWarning: skipping unreadable checkpoint {junk}: not a PyTorch checkpoint (no zip header)"]
    assert junk.read_bytes() == b"not a checkpoint"
    assert newest_checkpoint(out / "checkpoints")[0] == 10  # step 10 written again, whole


# finetune: an output folder swapped in whole


def finetune_command(train: Path, output: Path) -> list[str]:
    return ["finetune", "classify", "--model", "small", "--train", str(train), "--eval", str(train), "--epochs", "1",
            "--max-length", "16", "--batch-size", "4", "--output", str(output)]


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Training data and the model folder a finished fine-tuning run saved from it."""
    folder = tmp_path_factory.mktemp("finetuned")
    rows = [("what a wonderful film", "positive"), ("a great and moving story", "positive"),
            ("a boring mess", "negative"), ("dull and far too long", "negative")] * 2
    train = folder / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    assert run_cli(*finetune_command(train, folder / "model")).returncode == 0
    return train, folder / "model"


@pytest.fixture
def finetuned(trained_once: tuple[Path, Path], tmp_path: Path) -> tuple[list[str], Path, dict[str, str]]:
    """The command of a run whose --output already holds an earlier model (a copy), and that folder's digest."""
    train, saved = trained_once
    output = tmp_path / "model"
    shutil.copytree(saved, output)
    return finetune_command(train, output), output, file_digests(output)


@pytest.mark.parametrize("point, signal_number", [("train", signal.SIGINT), ("train", signal.SIGKILL),
                                                  ("sync", signal.SIGKILL), ("rename", signal.SIGKILL),
                                                  ("rename", signal.SIGINT)],
                         ids=["train-SIGINT", "train-SIGKILL", "sync-SIGKILL", "rename-SIGKILL", "rename-SIGINT"])
def test_finetune_killed_keeps_the_earlier_model_folder(finetuned, tmp_path: Path, point: str,
                                                        signal_number: int) -> None:
    command, output, earlier = finetuned
    prefix = tmp_path if point == "train" else output.parent
    kill(held(point, prefix, *command), signal_number)
    assert file_digests(output) == earlier
    if signal_number == signal.SIGINT:
        assert [name for name in hidden(tmp_path) if name.startswith(".model.")] == []
    predicted = run_cli("predict", "--model", str(output), "a wonderful story")
    assert predicted.returncode == 0 and json.loads(predicted.stdout)["label"] in ("positive", "negative")


def test_two_finetune_runs_on_one_output_leave_one_complete_model(finetuned, tmp_path: Path) -> None:
    command, output, _ = finetuned
    runs = [subprocess.Popen([sys.executable, "-m", "fromzero", *command, "--seed", str(seed)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENVIRONMENT)
            for seed in (1, 2)]
    for run in runs:
        _, stderr = run.communicate(timeout=240)
        assert run.returncode == 0, stderr[-2000:]
    assert [name for name in hidden(tmp_path) if name.startswith(".model.")] == []
    predicted = run_cli("predict", "--model", str(output), "a wonderful story")
    assert predicted.returncode == 0, predicted.stderr
