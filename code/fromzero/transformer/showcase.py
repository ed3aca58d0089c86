"""Models pretrained by ``python -m fromzero pretrain`` for chapters 9 and 10, made once and cached by their inputs.

Each chapter trains a toy inside the notebook, then shows what the same code reaches through the
command line in several minutes, with the command's defaults (its best measured recipe). Training
that model inside the chapter would double the chapter's run time, so the book's build runs
``python -m fromzero.transformer.showcase KIND`` beside the notebooks (``.ci/execute.py``), and a chapter
calls :func:`command_line_model`, which returns the finished run, waits for the one in progress, or
trains it itself (in Colab, where nothing warmed the cache and a GPU makes it quick).

The runs are limited by steps, not minutes, and seeded, so what a page shows does not depend on
how busy the machine was. The cache key covers everything a run depends on: the command, the
package's source code and the corpus; change any of them and the model is trained afresh.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fromzero.data.cache import cache_dir
from fromzero.data.scale import get_scale
from fromzero.errors import FromZeroError
from fromzero.files import write_atomically
from fromzero.transformer.corpus import pretraining_corpus

# Optimizer steps at the small scale on a CPU: a few minutes each on 2 cores. The full scale
# trains 4 times longer, a GPU 5 times (its steps take milliseconds).
SHOWCASE_STEPS = {"bert": 2000, "gpt": 700}
FULL_SCALE_FACTOR = 4
GPU_FACTOR = 5
KINDS = ("bert", "gpt")  # in the order the chapters need them


@dataclass
class CommandLineRun:
    """A finished ``pretrain`` run: the command as a reader would type it, its report, the model and tokenizer.

    ``options`` are the run's settings, defaults filled in (``run.json``); ``summary`` is the command's
    last line of output (held-out scores, steps, parameters, timings).
    """

    command: str
    options: dict[str, Any]
    summary: dict[str, Any]
    seconds: float
    directory: Path
    model: Any
    tokenizer: Any


def showcase_steps(kind: str, scale: str, device_type: str) -> int:
    """The step budget of the chapter's command-line model: it grows with the scale and on a GPU."""
    if kind not in SHOWCASE_STEPS:
        raise FromZeroError(f"unknown model kind {kind!r}: choose one of {', '.join(KINDS)}")
    steps = SHOWCASE_STEPS[kind] * (FULL_SCALE_FACTOR if scale == "full" else 1)
    return steps * (GPU_FACTOR if device_type == "cuda" else 1)


def command_line_model(kind: str, *, seed: int = 0, device: str = "auto") -> CommandLineRun:
    """The cached run of ``python -m fromzero pretrain KIND`` for this scale and device, made if missing.

    When another process (the build's background job) is training the same run, this waits for it
    instead of training a second copy.
    """
    from fromzero.device import pick_device
    from fromzero.transformer.pretrain import load_pretrained

    device_type = pick_device(device).type
    train_path, eval_path = pretraining_corpus()
    steps = showcase_steps(kind, get_scale(), device_type)
    options = ["--max-steps", str(steps), "--seed", str(seed), "--device", device_type]
    key = _cache_key(kind, options, train_path, eval_path)
    folder = cache_dir() / "pretrained" / f"{kind}-{key}"
    if not (folder / "summary.json").is_file():  # a finished run is only read: a class can share it read-only
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f"{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not (folder / "summary.json").is_file():
                _train(kind, options, train_path, eval_path, folder)
    report = json.loads((folder / "summary.json").read_text())
    model, tokenizer = load_pretrained(folder / "run")
    command = f"python -m fromzero pretrain {kind} --corpus train.txt --eval-corpus eval.txt --out run " + " ".join(
        options
    )
    options_used = json.loads((folder / "run" / "run.json").read_text())["options"]
    return CommandLineRun(command, options_used, report["summary"], report["seconds"], folder, model, tokenizer)


def _cache_key(kind: str, options: list[str], train_path: Path, eval_path: Path) -> str:
    """A digest of what the run depends on: kind and options, every source file of the package, the corpus."""
    digest = hashlib.sha256(json.dumps([kind, options]).encode())
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    for path in (train_path, eval_path):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _train(kind: str, options: list[str], train_path: Path, eval_path: Path, folder: Path) -> None:
    """Run the command into ``folder / "run"`` and write ``summary.json`` last, so a finished run is complete.

    An interrupted run leaves its checkpoints; the next call runs the same command, which resumes.
    """
    folder.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "fromzero", "pretrain", kind, "--corpus", str(train_path),
               "--eval-corpus", str(eval_path), "--out", str(folder / "run"), *options]
    print(f"training the command line's {kind} model once, cached in {folder}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        shutil.rmtree(folder / "run", ignore_errors=True)
        raise FromZeroError(f"'python -m fromzero pretrain {kind}' failed:\n{completed.stderr[-2000:]}")
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    report = {"summary": summary, "seconds": time.perf_counter() - started}
    write_atomically(folder / "summary.json", json.dumps(report, indent=2))


def main(kinds: list[str]) -> None:
    """Make the command-line models of ``kinds`` (all by default); the book's build runs this beside the notebooks."""
    for kind in kinds or KINDS:
        command_line_model(kind)


if __name__ == "__main__":
    main(sys.argv[1:])
