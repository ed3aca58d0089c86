"""Fine-tuning speed and memory: the book's loop (``fromzero.train.fit``) vs ``transformers.Trainer``.

Both fine-tune the same sequence classifier (the offline MiniLM encoder with a new 5-way head) on the
same pre-tokenised BBC News articles, padded per batch by the same collator, with the same batch size,
number of steps, AdamW settings, warm-up and linear decay, gradient clipping and (on CUDA) bf16 autocast.
Neither evaluates nor saves checkpoints. Every run happens in its own fresh subprocess, so that peak
memory belongs to one runner only; the runners alternate, and the median of the repeats is reported,
because the machine may be shared.

Measured per run: examples per second over the whole training call (start-up of the first steps
included, as a user pays it); examples per CPU-second (user + system time of the process), which a
busy machine distorts much less than the wall clock when the runs use one thread; and peak memory:
the process's maximum resident set size on the CPU (``resource.getrusage``),
``torch.cuda.max_memory_allocated`` on a GPU.

    .venv/bin/python bench/bench_trainer.py                  # defaults: 30 steps of 16 examples, 128 pieces
    .venv/bin/python bench/bench_trainer.py --steps 60 --repeats 5 --threads 1   # one thread on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from machine import describe_machine

RUNNERS = ("fit", "trainer")
LR, WEIGHT_DECAY, WARMUP_FRACTION, MAX_GRAD_NORM = 5e-5, 0.01, 0.1, 1.0


def _prepare(args: argparse.Namespace) -> tuple[Any, Any, list[dict], Any]:
    """Model, tokenizer, features and device: identical for both runners."""
    import torch

    from fromzero.data.loaders import classification_data
    from fromzero.device import pick_device
    from fromzero.finetune.checkpoints import load_classifier, resolve_checkpoint
    from fromzero.finetune.collate import encode_texts

    data = classification_data()
    texts = data.train["text"].tolist()[: args.steps * args.batch_size]
    label2id = {label: i for i, label in enumerate(data.labels)}
    labels = [label2id[label] for label in data.train["label"].tolist()[: len(texts)]]
    torch.manual_seed(args.seed)
    model, tokenizer = load_classifier(resolve_checkpoint(args.model), data.labels)
    features = encode_texts(tokenizer, texts, args.max_length, labels)
    return model, tokenizer, features, pick_device(args.device)


def _run_fit(model: Any, tokenizer: Any, features: list[dict], device: Any, args: argparse.Namespace) -> None:
    from fromzero.batches import make_loader
    from fromzero.finetune.collate import FeatureDataset, PadCollator
    from fromzero.finetune.options import FinetuneOptions
    from fromzero.finetune.tasks import make_finetune_optimizer, sequence_loss
    from fromzero.train import TrainConfig, fit

    loader = make_loader(FeatureDataset(features), args.batch_size, seed=args.seed,
                         collate_fn=PadCollator(tokenizer.pad_token_id))
    # The optimizer the command line uses (fused AdamW, as Trainer's default), with one learning rate for all.
    options = FinetuneOptions(lr=LR, head_lr=LR, weight_decay=WEIGHT_DECAY, device=str(device))
    config = TrainConfig(
        epochs=1_000, max_steps=args.steps, lr=LR, weight_decay=WEIGHT_DECAY, max_grad_norm=MAX_GRAD_NORM,
        warmup_steps=round(WARMUP_FRACTION * args.steps), schedule="linear", seed=args.seed, device=str(device),
        progress=False,
    )
    fit(model, loader, sequence_loss, config, optimizer=make_finetune_optimizer(model, options))


def _run_trainer(model: Any, tokenizer: Any, features: list[dict], device: Any, args: argparse.Namespace) -> None:
    import tempfile

    from transformers import Trainer, TrainingArguments

    from fromzero.finetune.collate import FeatureDataset, PadCollator

    with tempfile.TemporaryDirectory() as output_dir:
        training_args = TrainingArguments(
            output_dir=output_dir, per_device_train_batch_size=args.batch_size, max_steps=args.steps,
            learning_rate=LR, weight_decay=WEIGHT_DECAY, max_grad_norm=MAX_GRAD_NORM,
            warmup_steps=round(WARMUP_FRACTION * args.steps), lr_scheduler_type="linear", seed=args.seed,
            logging_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, use_cpu=device.type == "cpu", bf16=device.type == "cuda",
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=FeatureDataset(features),
                          data_collator=PadCollator(tokenizer.pad_token_id))
        trainer.train()


def _cpu_seconds() -> float:
    """CPU time used by this process so far (user + system, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(args: argparse.Namespace) -> None:
    """One measured run, in this (fresh) process; prints one JSON line."""
    import torch

    model, tokenizer, features, device = _prepare(args)
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    (_run_fit if args.child == "fit" else _run_trainer)(model, tokenizer, features, device, args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_before
    result = {
        "runner": args.child,
        "device": str(device),
        "seconds": seconds,
        "examples_per_second": args.steps * args.batch_size / seconds,
        "cpu_seconds": cpu_seconds,
        "examples_per_cpu_second": args.steps * args.batch_size / cpu_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_training_mib": before_kib / 1024,
    }
    if device.type == "cuda":
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def _spawn(runner: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", runner, "--steps", str(args.steps), "--batch-size",
               str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(args.seed),
               "--device", args.device, "--model", args.model]
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    finished = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if finished.returncode != 0:
        raise SystemExit(f"{runner} run failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run (30)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per step (16)")
    parser.add_argument("--max-length", type=int, default=128, help="word pieces per article (128)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per runner, alternating (3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the runs (default: PyTorch's choice)")
    parser.add_argument("--model", default="small",
                        help="the encoder: small (default, the offline MiniLM), a folder or a hub name")
    parser.add_argument("--child", choices=RUNNERS, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.child:
        _child(args)
        return
    runs: dict[str, list[dict[str, Any]]] = {runner: [] for runner in RUNNERS}
    for repeat in range(args.repeats):
        for runner in RUNNERS:
            runs[runner].append(_spawn(runner, args))
            print(f"repeat {repeat + 1}, {runner}: {runs[runner][-1]['examples_per_second']:.2f} examples/s, "
                  f"peak RSS {runs[runner][-1]['peak_rss_mib']:.0f} MiB", flush=True)
    summary = {
        runner: {key: statistics.median(run[key] for run in results) for key in results[0] if key not in
                 ("runner", "device")}
        for runner, results in runs.items()
    }
    ratio = summary["fit"]["examples_per_second"] / summary["trainer"]["examples_per_second"]
    cpu_ratio = summary["fit"]["examples_per_cpu_second"] / summary["trainer"]["examples_per_cpu_second"]
    memory_key = "peak_cuda_mib" if "peak_cuda_mib" in summary["fit"] else "peak_rss_mib"
    print(f"\n{'':<26}{'fromzero fit':>14}{'HF Trainer':>14}")
    for key, name in (("examples_per_second", "examples / s"), ("examples_per_cpu_second", "examples / CPU-s")):
        print(f"{name + ' (median)':<26}{summary['fit'][key]:>14.2f}{summary['trainer'][key]:>14.2f}")
    print(f"{'peak memory MiB':<26}{summary['fit'][memory_key]:>14.0f}{summary['trainer'][memory_key]:>14.0f}"
          f"   ({memory_key})")
    print(f"throughput ratio fit / Trainer: {ratio:.3f} (wall clock), {cpu_ratio:.3f} (CPU time)")
    print(json.dumps({
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "device": runs["fit"][0]["device"],
        "settings": {"model": args.model, "steps": args.steps, "batch_size": args.batch_size,
                     "max_length": args.max_length,
                     "repeats": args.repeats, "threads": args.threads or "default"},
        "load_average": os.getloadavg(),
        "fit": summary["fit"],
        "trainer": summary["trainer"],
        "throughput_ratio": ratio,
        "cpu_throughput_ratio": cpu_ratio,
        "all_runs": runs,
    }))


if __name__ == "__main__":
    main()
