"""Benchmark: does a tiny GPT pretrained for 8 CPU minutes compress unseen English better than bzip2?

With ``--model bert``: how much better than always guessing the most frequent token does a tiny BERT
pretrained for the given minutes restore the held-out tokens hidden behind ``[MASK]``?

Bits per character (bpc) on held-out text is a compression rate: an arithmetic coder driven by the
model would spend that many bits per character. ``gzip -9`` and ``bzip2 -9`` compress the same
held-out text and give the bar to clear (they see only that text; the model learned from the rest).

The corpus is real, offline English of about 8 MB: BBC News (2,127 distinct articles), the prose of
gensim's Wikipedia sample (107 articles) and the Lee corpus (300 articles). Every 10th document is
held out, so training and evaluation share no document (``fromzero.transformer.corpus.pretraining_corpus``,
which chapters 9 and 10 use too). The clock runs around the whole
``python -m fromzero pretrain gpt`` process: tokeniser training, data preparation, training, scoring.

The command runs with its own defaults, as a user types it (2 layers of width 128 over a 4k byte-level
BPE vocabulary, context 128, batches of 16, rotary positions, Muon for the blocks' matrices; see
``fromzero.transformer.options.DEFAULTS``); options after ``--`` are passed on.

    .venv/bin/python bench/bench_pretrain.py                    # 8 minutes, the command's defaults
    .venv/bin/python bench/bench_pretrain.py --minutes 2 --threads 1
    .venv/bin/python bench/bench_pretrain.py --model bert --minutes 5
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path

from machine import describe_machine

from fromzero.transformer.corpus import pretraining_corpus


def compressor_bits_per_char(text: str) -> dict[str, float]:
    """gzip -9, bzip2 -9 and xz -9 on the UTF-8 bytes, in bits per character of the text."""
    data = text.encode("utf-8")
    sizes = {
        "gzip -9": len(gzip.compress(data, compresslevel=9)),
        "bzip2 -9": len(bz2.compress(data, compresslevel=9)),
        "xz -9": len(lzma.compress(data, preset=9)),
    }
    return {name: 8 * size / len(text) for name, size in sizes.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("gpt", "bert"), default="gpt",
                        help="gpt (default): bits per character against the compressors; bert: accuracy at [MASK] "
                        "against always guessing the most frequent token")
    parser.add_argument("--minutes", type=float, default=8.0, help="time limit of the pretraining command (8)")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the run (default: PyTorch's choice)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_pretrain"), help="folder for data and model")
    parser.add_argument("extra", nargs="*", help="more options for 'pretrain' (after --), e.g. -- --lr 3e-3")
    return parser


def main() -> None:
    args = build_parser().parse_args()

    train_path, eval_path = pretraining_corpus()
    held_out = eval_path.read_text(encoding="utf-8")
    print(f"corpus: {train_path.stat().st_size / 1e6:.2f} MB training, {eval_path.stat().st_size / 1e6:.2f} MB "
          f"held out ({len(held_out):,} characters)")
    baselines = compressor_bits_per_char(held_out)

    out = args.work / f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [sys.executable, "-m", "fromzero", "pretrain", args.model, "--corpus", str(train_path),
               "--eval-corpus", str(eval_path), "--out", str(out), "--max-minutes", str(args.minutes),
               *args.extra]
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    load_before = os.getloadavg()
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"pretrain failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])

    print(f"machine: {describe_machine()}, OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {load_before[0]:.2f} before and {os.getloadavg()[0]:.2f} after the run")
    print("command:", " ".join(command[1:]))
    print(f"wall time {wall:.0f} s (limit {args.minutes * 60:.0f} s); {result['steps']:,} steps, "
          f"{result['parameters']:,} parameters, {result['tokens_per_second']:,.0f} training tokens/s")
    if args.model == "bert":
        ratio = result["eval_mask_accuracy"] / result["eval_most_frequent_accuracy"]
        print(f"accuracy at [MASK]: tiny BERT {result['eval_mask_accuracy']:.1%}, always the most frequent token "
              f"{result['eval_most_frequent_accuracy']:.1%}: {ratio:.2f} times the baseline")
        print(json.dumps({"wall_seconds": wall, "mask_accuracy_ratio": ratio, **result}))
        return
    rows = {"tiny GPT": result["eval_bits_per_char"], **baselines}
    for name, bpc in rows.items():
        print(f"{name:>10}: {bpc:.3f} bits/char")
    ratio = result["eval_bits_per_char"] / baselines["bzip2 -9"]
    print(f"tiny GPT / bzip2 -9 = {ratio:.3f} ({'beats' if ratio < 1 else 'does not beat'} bzip2)")
    print(json.dumps({"wall_seconds": wall, "baselines": baselines, **result}))


if __name__ == "__main__":
    main()
