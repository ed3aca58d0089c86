"""What :func:`fromzero.train.fit` measured while it trained: losses, learning rates, speed and evaluations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class History:
    """What :func:`fit` measured, as plain lists: plotting is one line, e.g.
    ``plt.plot(history.steps, history.train_loss)``.

    Per optimizer step: ``steps`` (1, 2, ...), ``epoch``, ``train_loss`` (mean over the step's
    batches and processes), ``lr`` (the rate that step used) and ``throughput`` (``unit`` per
    second, all processes together). Per evaluation: one dict in ``evals`` with ``step``,
    ``epoch``, ``eval_loss`` and what ``metrics_fn`` returned. ``best_metric`` and ``best_step``
    follow ``monitor``; ``seconds`` is the training time, summed over resumed runs.
    """

    steps: list[int] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    unit: str = "examples"
    monitor: str = "eval_loss"
    best_metric: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def add_step(self, step: int, epoch: int, loss: float, lr: float, throughput: float) -> None:
        """Record one optimizer step."""
        self.steps.append(step)
        self.epoch.append(epoch)
        self.train_loss.append(loss)
        self.lr.append(lr)
        self.throughput.append(throughput)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per optimizer step: step, epoch, train_loss, lr, throughput."""
        import pandas as pd

        columns = {"step": self.steps, "epoch": self.epoch, "train_loss": self.train_loss}
        return pd.DataFrame({**columns, "lr": self.lr, "throughput": self.throughput})

    def evals_dataframe(self) -> pd.DataFrame:
        """One row per evaluation: step, epoch, eval_loss and the metrics."""
        import pandas as pd

        return pd.DataFrame(self.evals)

    def to_json_lines(self) -> str:
        """One JSON object per optimizer step (``"kind": "step"``) and per evaluation (``"kind": "eval"``), in step
        order: what :data:`fromzero.checkpoint.METRICS_FILE` holds, so that ``pandas.read_json(path, lines=True)``
        plots a run."""
        rows: list[dict[str, Any]] = [
            {"kind": "step", "step": step, "epoch": epoch, "train_loss": loss, "lr": lr, "throughput": speed}
            for step, epoch, loss, lr, speed in zip(self.steps, self.epoch, self.train_loss, self.lr, self.throughput,
                                                    strict=True)
        ]
        rows += [{"kind": "eval", **evaluation} for evaluation in self.evals]
        rows.sort(key=lambda row: (row["step"], row["kind"] == "eval"))
        return "".join(json.dumps(row) + "\n" for row in rows)
