"""Tests of fromzero.train, the book's one training loop.

Every test trains a model small enough to finish in well under a second on a CPU; the DDP test
launches two Gloo processes on the loopback interface with ``torchrun``, and the mixed-precision
test runs only where a CUDA GPU is visible.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import free_port
from ddp_worker import GLOBAL_BATCH, mse, problem
from ddp_worker import config as ddp_config
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from fromzero.batches import count_units, make_loader, to_device
from fromzero.checkpoint import METRICS_FILE, load_checkpoint
from fromzero.device import autocast_dtype, has_native_bf16
from fromzero.errors import InputError
from fromzero.optimizers import lr_multiplier, make_optimizer
from fromzero.train import TrainConfig, evaluate, fit

TESTS = Path(__file__).resolve().parent


def quiet(**changes: Any) -> TrainConfig:
    """A config without the progress bar, for tests."""
    return TrainConfig(**{"progress": False, **changes})


def regression(n: int = 40, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.25
    return TensorDataset(x, y)


def mlp(dropout: float = 0.0, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))


def batches(dataset: TensorDataset, size: int) -> list[tuple[torch.Tensor, ...]]:
    """Fixed, unshuffled batches."""
    return [dataset[start : start + size] for start in range(0, len(dataset), size)]


class SlowLoss:
    """mse, taking at least ``seconds`` per batch: a stand-in for a slow model."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        time.sleep(self.seconds)
        return mse(model, batch)


def assert_same_weights(left: nn.Module, right: nn.Module) -> None:
    for (name, a), b in zip(left.state_dict().items(), right.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"{name} differs"


def assert_same_optimizer_state(left: torch.optim.Optimizer, right: torch.optim.Optimizer) -> None:
    left_state, right_state = left.state_dict()["state"], right.state_dict()["state"]
    assert left_state.keys() == right_state.keys()
    for index in left_state:
        for key, value in left_state[index].items():
            assert torch.equal(value, right_state[index][key]), f"optimizer state {index}.{key} differs"


class Crash(RuntimeError):
    """The interruption of a run, raised from inside the loss function."""


class CountingLoss:
    """The MSE loss, counting training calls and raising :class:`Crash` after ``crash_after`` of them."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.calls, self.crash_after = 0, crash_after

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        if model.training:
            self.calls += 1
            if self.crash_after is not None and self.calls > self.crash_after:
                raise Crash(f"interrupted at training batch {self.calls}")
        return mse(model, batch)


# 1. Training works.


def test_loss_falls_on_a_regression_and_history_lines_up() -> None:
    model = mlp()
    history = fit(model, regression(), mse, quiet(epochs=30, lr=0.02, batch_size=8, warmup_steps=5))

    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    assert history.steps == list(range(1, 30 * 5 + 1))
    assert history.epoch == [step // 5 for step in range(30 * 5)]
    assert all(value > 0 for value in history.throughput) and history.unit == "examples"
    assert history.seconds > 0 and not history.stopped_early and history.evals == []
    frame = history.to_dataframe()
    assert list(frame.columns) == ["step", "epoch", "train_loss", "lr", "throughput"] and len(frame) == 150
    assert model.training


class Blobs(Dataset):
    """Two separable clusters whose examples are dicts, as a tokenizer's output is."""

    def __init__(self, n: int = 64) -> None:
        generator = torch.Generator().manual_seed(1)
        self.labels = torch.arange(n) % 2
        self.features = torch.randn(n, 2, generator=generator) * 0.5 + (self.labels[:, None] * 4.0 - 2.0)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[index], "label": self.labels[index]}


def cross_entropy(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(model(batch["features"]), batch["label"])


def accuracy(model: nn.Module, data: DataLoader, device: torch.device) -> dict[str, float]:
    right = sum(int((model(b["features"].to(device)).argmax(1) == b["label"].to(device)).sum()) for b in data)
    return {"accuracy": right / len(data.dataset)}


def test_classifier_on_dict_batches_reaches_full_accuracy() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.1), nn.ReLU(), nn.Linear(8, 2))
    data = Blobs()
    history = fit(
        model, data, cross_entropy, quiet(epochs=5, lr=0.05, batch_size=16), eval_data=data, metrics_fn=accuracy
    )

    assert [e["step"] for e in history.evals] == [4, 8, 12, 16, 20]  # one evaluation per epoch
    assert history.evals[-1]["accuracy"] == 1.0
    assert history.evals[-1]["eval_loss"] < 0.1
    assert history.best_metric == min(e["eval_loss"] for e in history.evals)
    assert list(history.evals_dataframe().columns) == ["step", "epoch", "eval_loss", "accuracy"]
    assert model.training  # evaluation put the model back in training mode


def test_evaluate_runs_without_dropout_and_restores_the_mode() -> None:
    model = mlp(dropout=0.9)
    data = batches(regression(), 10)
    model.train()
    first = evaluate(model, data, mse)
    second = evaluate(model, data, mse)
    assert first == second  # no dropout, so no randomness
    assert model.training
    expected = sum(mse(model.eval(), batch).item() for batch in data) / len(data)
    assert first["eval_loss"] == pytest.approx(expected)


def test_to_device_moves_every_tensor_and_keeps_containers() -> None:
    Pair = namedtuple("Pair", "x y")
    batch = {"ids": torch.ones(2, 3), "nested": [(torch.zeros(1), "text")], "pair": Pair(torch.ones(1), 7)}
    moved = to_device(batch, "meta")
    assert moved["ids"].is_meta and moved["nested"][0][0].is_meta and moved["nested"][0][1] == "text"
    assert isinstance(moved["pair"], Pair) and moved["pair"].x.is_meta and moved["pair"].y == 7
    assert isinstance(moved["nested"], list) and isinstance(moved["nested"][0], tuple)

    transformers = pytest.importorskip("transformers")
    encoding = transformers.BatchEncoding({"input_ids": torch.ones(2, 4, dtype=torch.long)})
    moved = to_device(encoding, "meta")
    assert isinstance(moved, transformers.BatchEncoding) and moved.input_ids.is_meta


def test_count_units_counts_examples_and_tokens() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert count_units({"input_ids": torch.ones(2, 4), "attention_mask": mask}) == 2
    assert count_units({"input_ids": torch.ones(2, 4), "attention_mask": mask}, "tokens") == 5
    assert count_units((torch.ones(3, 8), torch.ones(3, 8)), "tokens") == 24
    assert count_units([torch.tensor(1.0)]) == 1


def test_progress_bar_shows_loss_and_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    data = [(torch.ones(2, 4), torch.ones(2, 1))] * 4
    fit(mlp(), data, mse, TrainConfig(epochs=2, log_every=1, throughput="tokens"), eval_data=data[:1])
    shown = capsys.readouterr()
    assert "8/8" in shown.err and "loss=" in shown.err and "tokens/s=" in shown.err
    assert "step 4: eval_loss" in shown.out and "step 8: eval_loss" in shown.out  # one line per evaluation

    fit(mlp(), data, mse, TrainConfig(progress=False), eval_data=data[:1])
    assert capsys.readouterr() == ("", "")


# 2. Exact resume.


def test_resume_after_a_crash_is_bit_identical(tmp_path: Path) -> None:
    # 40 examples in batches of 8: 5 batches an epoch; accumulating 2 makes 3 steps (the last a short one).
    data, eval_data = regression(), batches(regression(seed=1), 20)
    settings = {"epochs": 3, "batch_size": 8, "grad_accum_steps": 2, "lr": 0.01, "weight_decay": 0.1}
    settings |= {"warmup_steps": 2, "eval_every": 2, "early_stopping_patience": 100, "restore_best": False}

    config = quiet(**settings)
    straight = mlp(dropout=0.3)
    straight_optimizer = make_optimizer(straight, config)  # passed in, to compare its state at the end
    straight_history = fit(straight, data, mse, config, eval_data=eval_data, optimizer=straight_optimizer)

    with_checkpoints = quiet(**settings, checkpoint_dir=str(tmp_path), checkpoint_every=2)
    interrupted = CountingLoss(crash_after=8)  # step 4 ends at batch 7 (epoch 1, batch 2); batch 9 crashes
    with pytest.raises(Crash):
        fit(mlp(dropout=0.3), data, interrupted, with_checkpoints, eval_data=eval_data)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.jsonl", "step-00000002.pt", "step-00000004.pt"]

    resumed = mlp(dropout=0.3, seed=99)  # other starting weights: they must come from the checkpoint
    optimizer = make_optimizer(resumed, config)
    rest = CountingLoss()
    history = fit(resumed, data, rest, with_checkpoints, eval_data=eval_data, optimizer=optimizer)

    assert rest.calls == 15 - 7  # only the batches after the checkpoint were trained on
    assert_same_weights(straight, resumed)
    assert_same_optimizer_state(straight_optimizer, optimizer)  # AdamW's moments and step counts
    assert history.train_loss == straight_history.train_loss
    assert history.lr == straight_history.lr
    assert history.evals == straight_history.evals
    assert history.best_step == straight_history.best_step


def noisy_batch(examples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate with random noise, as a masked language model's collate function masks at random."""
    x, y = (torch.stack(column) for column in zip(*examples, strict=True))
    return x + 0.1 * torch.randn_like(x), y


def test_resume_after_max_steps_with_a_shuffled_dataloader(tmp_path: Path) -> None:
    # A plain shuffled DataLoader draws its order from the global generator, and its collate function
    # draws noise from it too: resume replays both.
    data = regression()
    settings = {"epochs": 2, "schedule": "constant", "lr": 0.01}

    def loader() -> DataLoader:
        return DataLoader(data, batch_size=8, shuffle=True, collate_fn=noisy_batch)

    torch.manual_seed(1234)  # the loop's own seeding must make this irrelevant
    straight = mlp(dropout=0.5)
    straight_history = fit(straight, loader(), mse, quiet(**settings))

    stopped = mlp(dropout=0.5)
    first_part = fit(stopped, loader(), mse, quiet(**settings, max_steps=3, checkpoint_dir=str(tmp_path)))
    assert first_part.steps == [1, 2, 3] and (tmp_path / "step-00000003.pt").exists()

    torch.manual_seed(5678)
    continued = fit(stopped, loader(), mse, quiet(**settings, checkpoint_dir=str(tmp_path)))
    assert_same_weights(straight, stopped)
    assert continued.train_loss == straight_history.train_loss

    again = CountingLoss()  # resuming a finished run trains nothing and returns its history
    finished = fit(stopped, loader(), again, quiet(**settings, checkpoint_dir=str(tmp_path)))
    assert again.calls == 0 and finished.train_loss == straight_history.train_loss


def test_a_deadline_stops_after_the_step_that_passes_it_and_the_run_resumes(tmp_path: Path) -> None:
    data = batches(regression(), 8)
    settings = {"epochs": 20, "schedule": "cosine", "max_steps": 40, "checkpoint_dir": str(tmp_path)}
    model = mlp()
    first = fit(model, data, SlowLoss(0.05), quiet(**settings, max_seconds=0.12))
    assert 2 <= first.steps[-1] < 40  # 0.05 s per step: the third step passes 0.12 s
    assert (tmp_path / f"step-{first.steps[-1]:08d}.pt").exists()
    rest = fit(model, data, mse, quiet(**settings))
    assert rest.steps[-1] == 40
    straight = mlp()
    fit(straight, data, mse, quiet(**{**settings, "checkpoint_dir": None}))
    assert_same_weights(straight, model)
    with pytest.raises(InputError, match="max_seconds must be None or positive"):
        quiet(max_seconds=0)


# 3. Gradient accumulation.


@pytest.mark.parametrize("examples", [24, 12])
def test_accumulating_half_batches_equals_full_batches(examples: int) -> None:
    # 12 examples: batches of 8 then 4, against 4 + 4 then a short group of one 4.
    data = regression(n=examples)
    settings = {"optimizer": "sgd", "lr": 0.05, "schedule": "constant", "epochs": 2}
    full, half = mlp(), mlp()
    full_history = fit(full, batches(data, 8), mse, quiet(**settings))
    half_history = fit(half, batches(data, 4), mse, quiet(**settings, grad_accum_steps=2))

    assert half_history.steps == full_history.steps
    assert half_history.train_loss == pytest.approx(full_history.train_loss, rel=1e-5)
    for a, b in zip(full.parameters(), half.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# 4. Learning-rate schedule.


def test_warmup_then_linear_decay_in_the_history() -> None:
    data = batches(regression(n=12), 2)
    history = fit(mlp(), data, mse, quiet(lr=1.0, optimizer="sgd", warmup_steps=2, max_steps=6, max_grad_norm=0.1))
    assert history.lr == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


def test_lr_multiplier_shapes() -> None:
    cosine = [lr_multiplier(step, total_steps=4, schedule="cosine") for step in range(5)]
    assert cosine == pytest.approx(
        [1.0, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5, 0.5 - 0.5 * math.cos(math.pi / 4), 0.0]
    )
    constant = [lr_multiplier(step, warmup_steps=4, schedule="constant") for step in range(6)]
    assert constant == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lr_multiplier(10, warmup_steps=2, total_steps=10) == 0.0
    # With a time limit, the decay follows whichever of steps and clock is further along.
    assert lr_multiplier(1, total_steps=4, schedule="cosine", time_used=0.5) == pytest.approx(0.5)
    assert lr_multiplier(3, total_steps=4, schedule="cosine", time_used=0.5) == pytest.approx(cosine[3])
    assert lr_multiplier(0, total_steps=100, time_used=1.2) == 0.0


def test_schedule_to_deadline_decays_the_rate_to_zero_when_the_clock_ends_training() -> None:
    data = batches(regression(), 8)
    limits = {"epochs": 1000, "max_steps": 10_000, "max_seconds": 0.5, "schedule_to_deadline": True}
    config = quiet(lr=0.01, schedule="cosine", **limits)
    history = fit(mlp(), data, SlowLoss(0.02), config)
    assert 5 <= history.steps[-1] < 100  # the clock, not the 10,000 steps, ended it
    assert history.lr[0] == 0.01
    assert all(later <= earlier for earlier, later in zip(history.lr, history.lr[1:], strict=False))
    assert history.lr[-1] < 0.01 * 0.1  # near the end of the cosine: the last steps were at a tenth of the peak
    with pytest.raises(InputError, match="max_seconds must be set when schedule_to_deadline is"):
        quiet(schedule_to_deadline=True)


def test_a_run_without_a_step_count_evaluates_and_saves_by_the_clock(tmp_path: Path) -> None:
    # A time-limited run does not know how many steps it will take: its evaluations and checkpoints come every
    # so many seconds instead (here every 0.2 s of a 1 s deadline, at 0.02 s per step, inside one long epoch).
    limits = {"max_seconds": 1.0, "schedule_to_deadline": True}
    clock = {"eval_every_seconds": 0.2, "checkpoint_every_seconds": 0.2, "checkpoint_dir": str(tmp_path)}
    data = batches(regression(400), 8)
    config = quiet(lr=0.01, schedule="cosine", **limits, **clock)
    history = fit(mlp(), data, SlowLoss(0.02), config, eval_data=data[:1])
    last = history.steps[-1]
    assert last < len(data)  # the clock ended the epoch early
    evaluated = [evaluation["step"] for evaluation in history.evals]
    assert 4 <= len(evaluated) <= 7 and evaluated[-1] == last, evaluated
    saved = sorted(int(path.stem.split("-")[-1]) for path in tmp_path.glob("step-*.pt"))
    assert 4 <= len(saved) <= 7 and saved[-1] == last, saved
    for name in ("eval_every_seconds", "checkpoint_every_seconds"):
        with pytest.raises(InputError, match=f"{name} must be None or positive"):
            quiet(**{name: 0.0})
    with pytest.raises(InputError, match="checkpoint_dir must be set when checkpoint_every_seconds is"):
        quiet(checkpoint_every_seconds=1.0)


# 5. Early stopping.


class ScriptedMetric:
    """A metrics_fn that reports a fixed series and remembers the weights at each evaluation."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.weights = iter(values), []

    def __call__(self, model: nn.Module, data: Any, device: torch.device) -> dict[str, float]:
        self.weights.append(copy.deepcopy(model.state_dict()))
        return {"error": next(self.values)}


@pytest.mark.parametrize("mode", ["min", "max"])
def test_early_stopping_stops_and_restores_the_best(mode: str, tmp_path: Path) -> None:
    sign = 1.0 if mode == "min" else -1.0
    metric = ScriptedMetric([sign * value for value in (0.5, 0.4, 0.3, 0.35, 0.31, 0.2, 0.1)])
    data = batches(regression(), 8)
    settings = {"epochs": 10, "eval_every": 1, "early_stopping_patience": 2, "monitor": "error", "monitor_mode": mode}
    model = mlp()
    history = fit(model, data, mse, quiet(**settings, checkpoint_dir=str(tmp_path)), eval_data=data, metrics_fn=metric)

    assert history.stopped_early and history.steps == [1, 2, 3, 4, 5]
    assert len(history.evals) == 5 and history.best_step == 3 and history.best_metric == pytest.approx(sign * 0.3)
    assert_same_weights(model, _module(metric.weights[2]))  # the weights of step 3, not of step 5

    resumed = mlp(seed=7)  # resuming a stopped run trains no further and restores the best weights too
    history = fit(resumed, data, mse, quiet(**settings, checkpoint_dir=str(tmp_path)), eval_data=data)
    assert history.stopped_early and history.steps == [1, 2, 3, 4, 5]
    assert_same_weights(resumed, _module(metric.weights[2]))


def _module(state: dict[str, torch.Tensor]) -> nn.Module:
    model = mlp()
    model.load_state_dict(state)
    return model


def test_early_stopping_can_keep_the_last_weights() -> None:
    metric = ScriptedMetric([1.0, 2.0, 3.0])
    data = batches(regression(), 8)
    settings = {"eval_every": 1, "early_stopping_patience": 2, "monitor": "error", "restore_best": False}
    model = mlp()
    history = fit(model, data, mse, quiet(**settings), eval_data=data, metrics_fn=metric)
    assert history.stopped_early and history.best_step == 1 and history.steps == [1, 2, 3]
    assert_same_weights(model, _module(metric.weights[-1]))


# 6. Checkpoint files.


def test_checkpoints_every_n_steps_and_robust_loading(tmp_path: Path) -> None:
    data = batches(regression(), 4)  # 10 steps
    settings = {"checkpoint_dir": str(tmp_path), "checkpoint_every": 3}
    model = mlp()
    fit(model, data, mse, quiet(**settings))
    names = ["metrics.jsonl", "step-00000003.pt", "step-00000006.pt", "step-00000009.pt", "step-00000010.pt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == names  # no temporary file left

    loaded = mlp(seed=5)
    checkpoint = load_checkpoint(tmp_path, loaded)
    assert checkpoint["step"] == 10 and checkpoint["config"]["checkpoint_every"] == 3
    assert_same_weights(model, loaded)
    assert load_checkpoint(tmp_path / "step-00000003.pt", mlp())["step"] == 3

    (tmp_path / "step-00000010.pt").write_bytes(b"half a checkpoint")  # a file cut short by a crash
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        assert load_checkpoint(tmp_path, mlp())["step"] == 9
    resumed = mlp()
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        fit(resumed, data, mse, quiet(**settings))  # resumes from step 9 and redoes step 10
    assert_same_weights(model, resumed)

    with pytest.raises(InputError, match="does not fit this model"):
        load_checkpoint(tmp_path, nn.Linear(4, 1))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no readable checkpoint"):
        load_checkpoint(tmp_path / "empty", mlp())
    with pytest.raises(InputError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", mlp())


def test_metrics_file_beside_the_checkpoints_holds_the_history_and_continues_on_resume(tmp_path: Path) -> None:
    data, held_out = batches(regression(), 4), batches(regression(seed=1), 8)  # 10 steps an epoch
    config = quiet(epochs=2, checkpoint_dir=str(tmp_path), checkpoint_every=5, eval_every=10)
    interrupted = CountingLoss(crash_after=13)
    with pytest.raises(Crash):
        fit(mlp(), data, interrupted, config, eval_data=held_out)
    assert len(pd.read_json(tmp_path / METRICS_FILE, lines=True)) == 10 + 1  # as of the checkpoint at step 10
    history = fit(mlp(), data, mse, config, eval_data=held_out)
    metrics = pd.read_json(tmp_path / METRICS_FILE, lines=True)
    steps, evals = metrics[metrics["kind"] == "step"], metrics[metrics["kind"] == "eval"]
    assert steps["step"].tolist() == list(range(1, 21)) and steps["train_loss"].tolist() == history.train_loss
    assert evals["step"].tolist() == [10, 20] and evals["eval_loss"].tolist() == [e["eval_loss"] for e in history.evals]


def test_keep_checkpoints_keeps_the_newest(tmp_path: Path) -> None:
    fit(
        mlp(),
        batches(regression(), 4),
        mse,
        quiet(checkpoint_dir=str(tmp_path), checkpoint_every=2, keep_checkpoints=2),
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.jsonl", "step-00000008.pt", "step-00000010.pt"]


def test_pruning_counts_readable_checkpoints_by_their_recorded_step_and_leaves_junk_alone(tmp_path: Path) -> None:
    junk = tmp_path / "step-99999999.pt"  # sorts after every real checkpoint by name
    junk.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint") as caught:
        fit(mlp(), batches(regression(), 4), mse,
            quiet(checkpoint_dir=str(tmp_path), checkpoint_every=2, keep_checkpoints=2))
    assert sum("skipping" in str(warning.message) for warning in caught) == 1  # once, not at every save
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "metrics.jsonl", "step-00000008.pt", "step-00000010.pt", junk.name]
    assert junk.read_bytes() == b"not a checkpoint"
    os.replace(tmp_path / "step-00000010.pt", tmp_path / "step-00000001.pt")  # a name that lies about its step
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        assert load_checkpoint(tmp_path, mlp())["step"] == 10


# 7. Mixed precision.


def test_no_autocast_on_cpu() -> None:
    dtypes = []

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        dtypes.append(model(batch[0]).dtype)
        return mse(model, batch)

    fit(mlp(), batches(regression(), 20), loss_fn, quiet(device="cpu"))
    assert dtypes == [torch.float32, torch.float32]
    assert autocast_dtype("auto", torch.device("cpu")) is None
    with pytest.raises(InputError, match="needs a CUDA GPU"):
        autocast_dtype("bf16", torch.device("cpu"))


@pytest.mark.parametrize(("capability", "native"), [((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_auto_precision_picks_bf16_only_where_the_gpu_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], native: bool
) -> None:
    # A T4 (7.5, Colab's GPU) emulates bf16, and PyTorch's is_bf16_supported() says yes there: the capability decides.
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    cuda = torch.device("cuda")
    assert has_native_bf16(cuda) is native
    assert autocast_dtype("auto", cuda) == (torch.bfloat16 if native else torch.float16)
    assert autocast_dtype("fp16", cuda) == torch.float16
    if native:
        assert autocast_dtype("bf16", cuda) == torch.bfloat16
    else:
        with pytest.raises(InputError, match="no native bf16"):
            autocast_dtype("bf16", cuda)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision (autocast, GradScaler) needs a CUDA GPU")
@pytest.mark.parametrize("mixed_precision", ["auto", "fp16"])
def test_mixed_precision_on_cuda(mixed_precision: str, tmp_path: Path) -> None:
    expected = torch.bfloat16 if mixed_precision == "auto" and has_native_bf16() else torch.float16
    assert autocast_dtype(mixed_precision, torch.device("cuda")) == expected
    dtypes = []

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        assert x.is_cuda
        prediction = model(x)
        dtypes.append(prediction.dtype)
        return F.mse_loss(prediction.float(), y)

    model = mlp()
    settings = {"epochs": 30, "lr": 0.02, "batch_size": 8, "mixed_precision": mixed_precision}
    history = fit(model, regression(), loss_fn, quiet(**settings, checkpoint_dir=str(tmp_path)))
    assert set(dtypes) == {expected}
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    assert next(model.parameters()).dtype == torch.float32  # autocast leaves the weights in float32
    scaler_state = load_checkpoint(tmp_path, mlp())["scaler"]
    assert ("scale" in scaler_state) == (expected == torch.float16)  # the GradScaler is saved with fp16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch.compile on a GPU (bench/gpu_check.sh runs it)")
def test_fit_trains_a_compiled_model_on_cuda(tmp_path: Path) -> None:
    model = mlp()
    model.compile()  # in place: the state dict keeps its names, so checkpoints load into a plain model
    history = fit(model, regression(), mse, quiet(epochs=30, lr=0.02, batch_size=8, checkpoint_dir=str(tmp_path)))
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    assert next(model.parameters()).is_cuda
    plain = mlp(seed=1)
    load_checkpoint(tmp_path, plain)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor.cpu(), plain.state_dict()[name]), name


# 8. Several processes.


@pytest.mark.slow
def test_ddp_with_two_cpu_processes_matches_one_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(TESTS / "ddp_worker.py")]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    finished = subprocess.run([*command, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = torch.load(tmp_path / "result.pt", weights_only=True)

    # One process with the whole batch, against two with half of it each (and no_sync while accumulating).
    model, data = problem()
    eval_batches = [data[:16], data[16:]]
    history = fit(model, make_loader(data, GLOBAL_BATCH), mse, ddp_config(), eval_data=eval_batches)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(result["model"][name], value, rtol=0, atol=1e-5)
    assert result["history"]["train_loss"] == pytest.approx(history.train_loss, abs=1e-6)
    assert [e["eval_loss"] for e in result["history"]["evals"]] == pytest.approx(
        [e["eval_loss"] for e in history.evals], abs=1e-6
    )

    # Under DDP too, an interrupted and resumed run ends where the straight one did, each process with its dropout.
    for name, value in result["straight"].items():
        assert torch.equal(result["resumed"][name], value), name
    assert len(result["checkpoint_rng"]) == 2
    assert not torch.equal(result["checkpoint_rng"][0]["torch"], result["checkpoint_rng"][1]["torch"])


# 9. Clear errors.


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grad_accum_steps": 0}, "grad_accum_steps must be at least 1"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"max_steps": 0}, "max_steps must be None or at least 1"),
        ({"lr": 0.0}, "lr must be positive"),
        ({"max_grad_norm": -1.0}, "max_grad_norm"),
        ({"schedule": "exponential"}, "schedule must be one of 'linear', 'cosine', 'constant'"),
        ({"optimizer": "lion"}, "optimizer must be one of"),
        ({"mixed_precision": "fp8"}, "mixed_precision must be one of"),
        ({"monitor_mode": "best"}, "monitor_mode"),
        ({"throughput": "bytes"}, "throughput"),
        ({"checkpoint_every": 5}, "checkpoint_dir must be set when checkpoint_every is"),
    ],
)
def test_nonsense_config_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        TrainConfig(**changes)


class LyingLength(list):
    """Batches whose len() promises more than they hold, as a miscounted stream might."""

    def __len__(self) -> int:
        return 5


def test_bad_data_and_losses_name_the_problem() -> None:
    data = batches(regression(), 8)
    with pytest.raises(InputError, match="train_data is empty"):
        fit(mlp(), [], mse, quiet())
    with pytest.raises(InputError, match="no batches in epoch 0"):
        fit(mlp(), iter([]), mse, quiet(schedule="constant"))
    with pytest.raises(InputError, match=r"yielded 3 batches in an epoch, but its len\(\) is 5"):
        fit(mlp(), LyingLength(data[:3]), mse, quiet())
    with pytest.raises(InputError, match="schedule needs a length"):
        fit(mlp(), iter(data), mse, quiet())
    with pytest.raises(InputError, match=r"scalar tensor, got shape \(8, 1\) at step 1"):
        fit(mlp(), data, lambda model, batch: (model(batch[0]) - batch[1]) ** 2, quiet())
    with pytest.raises(InputError, match="without gradient at step 1"):
        fit(mlp(), data, lambda model, batch: mse(model, batch).detach(), quiet())
    with pytest.raises(InputError, match="eval_data"):
        fit(mlp(), data, mse, quiet(early_stopping_patience=2))
    with pytest.raises(InputError, match="monitor 'accuracy' is not among"):
        fit(mlp(), data, mse, quiet(monitor="accuracy"), eval_data=data)
    with pytest.raises(InputError, match="eval_data yielded no batches"):
        fit(mlp(), data, mse, quiet(), eval_data=[])


def test_a_nan_loss_names_its_step() -> None:
    calls = 0

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = mse(model, batch)
        return loss * float("nan") if calls == 5 else loss

    with pytest.raises(InputError, match=r"non-finite loss \(nan\) at step 3"):
        fit(mlp(), batches(regression(), 4), loss_fn, quiet(grad_accum_steps=2))
