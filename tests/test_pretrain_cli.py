"""``python -m fromzero pretrain``: help, the JSON contract, resumable output folders, one-line errors."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, child_cpu_seconds, default_sigint, free_port, last_json

from fromzero.checkpoint import load_checkpoint
from fromzero.data.sources import load_bbc_news
from fromzero.errors import InputError
from fromzero.files import lock_folder
from fromzero.transformer.gpt import generate
from fromzero.transformer.options import PretrainOptions
from fromzero.transformer.pretrain import load_pretrained, pretrain

TINY = ["--dim", "32", "--layers", "1", "--heads", "2", "--context", "32", "--vocab-size", "300", "--batch-size", "8"]
CONTRACT = {"eval_loss", "eval_perplexity", "eval_bits_per_char"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # One thread: a tiny model gains nothing from two, and two threads fight with the other test worker.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "fromzero", *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 60 kB of real news text, articles separated by blank lines."""
    path = tmp_path_factory.mktemp("corpus") / "news.txt"
    path.write_text("\n\n".join(load_bbc_news()["text"].iloc[:30]), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["pretrain"], ["pretrain", "gpt"], ["pretrain", "bert"]])
def test_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m fromzero pretrain")
    if len(command) == 2:
        for option in ("--corpus", "--eval-corpus", "--out", "--max-steps", "--max-minutes", "--seed", "--device"):
            assert option in result.stdout


def test_gpt_run_within_a_time_limit_prints_the_json_contract_and_leaves_a_loadable_model(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gpt"
    cpu_before = child_cpu_seconds()
    result = last_json(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-minutes=0.15",
                               *TINY))
    assert set(result) >= CONTRACT
    # Training stops at a deadline that leaves time for the final score within the 9 seconds (the tokeniser
    # included). On a quiet machine the whole process, torch's
    # import included, uses about 10 CPU seconds. Its CPU time, unlike its wall time, does not grow while the book's
    # notebooks execute beside it (a wall-clock bound failed there at 15 s): a run that ignored its limit would show.
    assert result["steps"] >= 1
    assert child_cpu_seconds() - cpu_before <= 9 * 1.5
    assert result["eval_perplexity"] == pytest.approx(math.exp(result["eval_loss"]))
    # bits/char = nats/token * tokens / characters / ln 2
    per_char = result["eval_loss"] * result["eval_tokens"] / result["eval_characters"] / math.log(2)
    assert result["eval_bits_per_char"] == pytest.approx(per_char)
    assert 0 < result["eval_bits_per_char"] < 8
    model, tokenizer = load_pretrained(out)
    sample = generate(model, torch.tensor([tokenizer.encode("The").ids]), 5, generator=torch.Generator().manual_seed(0))
    assert isinstance(tokenizer.decode(sample[0].tolist()), str)


def test_bert_run_reports_masked_language_model_scores(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "bert"
    args = ["--corpus", str(corpus), "--out", str(out), "--max-steps", "4"]
    result = last_json(run_cli("pretrain", "bert", *args, *TINY))
    assert set(result) >= CONTRACT | {"eval_mlm_accuracy", "eval_mask_accuracy", "eval_most_frequent_accuracy"}
    assert "eval_nsp_accuracy" not in result  # MLM only by default, as RoBERTa
    assert all(math.isfinite(result[key]) for key in CONTRACT)
    model, _ = load_pretrained(out)
    assert not model.config.nsp and model.config.positions == "rotary"
    with_nsp = last_json(run_cli("pretrain", "bert", *args, *TINY, "--nsp", "--out", str(tmp_path / "nsp")))
    assert 0 <= with_nsp["eval_nsp_accuracy"] <= 1
    assert load_pretrained(tmp_path / "nsp")[0].config.nsp


@pytest.mark.parametrize("recipe", [{}, {"positions": "learned", "optimizer": "adamw"}])
def test_interrupted_run_resumes_to_identical_weights(corpus: Path, tmp_path: Path, recipe: dict[str, str]) -> None:
    torch.set_num_threads(1)
    sizes = {"dim": 32, "layers": 1, "heads": 2, "context": 32, "vocab_size": 300, "batch_size": 8}
    options = PretrainOptions(kind="gpt", corpus=str(corpus), out=str(tmp_path / "run"), max_steps=5, progress=False,
                              device="cpu", **sizes, **recipe)
    whole = pretrain(options, log=lambda _: None)
    checkpoints = sorted((tmp_path / "run" / "checkpoints").glob("step-*.pt"))
    assert [path.name for path in checkpoints] == ["step-00000004.pt", "step-00000005.pt"]
    checkpoints[-1].unlink()  # as if the run had been killed after step 4
    resumed = pretrain(options, log=lambda _: None)
    assert resumed.summary["steps"] == 5
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert whole.scores == resumed.scores
    fresh, _ = load_pretrained(tmp_path / "run")
    load_checkpoint(tmp_path / "run" / "checkpoints", fresh)
    assert torch.equal(fresh.lm_head.weight, whole.model.lm_head.weight)


def test_held_out_corpus_is_used_and_other_options_in_the_same_folder_are_refused(corpus: Path, tmp_path: Path) -> None:
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("A short held-out text about the economy.\n", encoding="utf-8")
    args = ["--corpus", str(corpus), "--eval-corpus", str(held_out), "--out", str(tmp_path / "g"), "--max-steps", "1"]
    result = last_json(run_cli("pretrain", "gpt", *args, *TINY))
    # every character but the first token's ("A"), which nothing before it predicts
    assert result["eval_characters"] == len("A short held-out text about the economy.") - 1
    assert_one_line_error(run_cli("pretrain", "gpt", *args, *TINY, "--lr", "0.01"), "other options", "lr")


def test_missing_corpus_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(missing), "--out", str(tmp_path / "o")),
                          str(missing), "no such file")


def test_empty_corpus_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    assert_one_line_error(run_cli("pretrain", "bert", "--corpus", str(empty), "--out", str(tmp_path / "o")),
                          str(empty), "empty")


def test_corpus_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 50)
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(latin), "--out", str(tmp_path / "o")),
                          str(latin), "UTF-8")


def test_bad_eval_corpus_and_sizes_exit_2(corpus: Path, tmp_path: Path) -> None:
    directory = tmp_path / "folder"
    directory.mkdir()
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--eval-corpus", str(directory),
                                  "--out", str(tmp_path / "o")), "directory")
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                  "--dim", "30", "--heads", "4"), "multiple of --heads")
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                  "--max-steps", "0"), "--max-steps")
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                  "--context", "16", "--eval-stride", "17"), "--eval-stride (17) must not exceed")
    assert_one_line_error(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                  "--dim", "20", "--heads", "4", "--positions", "rotary"), "(5) must be even")
    assert_one_line_error(run_cli("pretrain", "bert", "--corpus", str(corpus), "--out", str(tmp_path / "o"),
                                  "--mask-probability", "0"), "--mask-probability")


def test_ctrl_c_ends_in_one_line_that_says_how_to_resume_and_the_rerun_resumes(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    command = [sys.executable, "-m", "fromzero", "pretrain", "gpt", "--corpus", str(corpus), "--out", str(out),
               "--max-steps", "2000", *TINY]  # a checkpoint every 400 steps, a few seconds
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, preexec_fn=default_sigint)
    deadline = time.monotonic() + 90
    while not list((out / "checkpoints").glob("step-*.pt")) and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("fromzero: interrupted: the checkpoints already in --out")
    resumed = run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-steps", "2000", *TINY)
    assert last_json(resumed)["steps"] == 2000


@pytest.mark.parametrize("broken", ["run.json", "model.json", "tokenizer.json"])
def test_a_corrupt_run_folder_is_one_line_naming_the_file(corpus: Path, tmp_path: Path, broken: str) -> None:
    out = tmp_path / "run"
    last_json(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-steps", "2", *TINY))
    (out / broken).write_text('{"options": {"cut short')
    if broken == "model.json":
        with pytest.raises(InputError, match=r"model\.json: not readable as JSON"):
            load_pretrained(out)
    else:
        again = run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-steps", "2", *TINY)
        assert_one_line_error(again, broken)


@pytest.mark.parametrize("option, value, message", [("--seed", "-1", "from 0 to"), ("--seed", "1e23", "whole number"),
                                                    ("--lr", "-1e-5", "positive"),
                                                    ("--max-minutes", "0.001", "at least 0.05 minutes")])
def test_bad_numbers_are_named_by_their_option(corpus: Path, tmp_path: Path, option: str, value: str,
                                               message: str) -> None:
    result = run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(tmp_path / "x"), option, value)
    assert_one_line_error(result, option, message)


def test_a_second_run_on_the_same_out_is_refused_while_the_first_runs(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    held = lock_folder(out, "--out")  # as a run in progress holds it
    second = run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-steps", "2", *TINY)
    assert_one_line_error(second, "--out", "is in use by another run", f"process {os.getpid()}")
    held.close()
    last_json(run_cli("pretrain", "gpt", "--corpus", str(corpus), "--out", str(out), "--max-steps", "2", *TINY))


@pytest.mark.slow
def test_pretrain_under_torchrun_with_two_cpu_processes_reports_and_writes_once(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpt"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "fromzero", "pretrain", "gpt",
               "--corpus", str(corpus), "--out", str(out), "--max-steps", "4", "--device", "cpu", *TINY]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    reports = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1, finished.stdout  # process 0 alone reports
    summary = json.loads(reports[0])
    assert summary["steps"] == 4 and set(summary) >= CONTRACT
    assert finished.stdout.count("training: 4 steps") == 1  # and logs
    assert sorted(path.name for path in (out / "checkpoints").glob("step-*.pt"))[-1] == "step-00000004.pt"
    model, tokenizer = load_pretrained(out)  # written once, whole, by process 0
    assert model.config.vocab_size == tokenizer.get_vocab_size()
    assert load_checkpoint(out / "checkpoints", model)["history"]["steps"] == [1, 2, 3, 4]
