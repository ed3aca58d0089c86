"""GloVe's batch size and learning rate at the command line's settings, judged by J over all cells.

Trains ``fit_glove`` (dimension 100, window 5, min count 5, AdaGrad sums from ``ADAGRAD_START``) on the
embedding benchmark's 1.35M-token corpus (``bench_embeddings.py``) for each ``batch:lr`` pair given, and
prints J, the weighted squared error summed over every non-zero cell, after the last epoch: the quantity
training minimises, so the fair judge of a setting. WordSim-353 of W + W~ is printed for information only.

    .venv/bin/python bench/bench_glove_settings.py --epochs 3 8192:0.5 2048:0.5 2048:0.25
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_embeddings import build_corpus

from fromzero.embeddings.glove import CellBatches, count_cells, fit_glove, glove_loss
from fromzero.embeddings.options import EmbedOptions
from fromzero.evaluate import similarity_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="+", help="batch:lr pairs, e.g. 8192:0.5")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sentences = build_corpus(Path(folder) / "corpus.txt")
    options = EmbedOptions(epochs=args.epochs, seed=args.seed, progress=False)
    _, cells = count_cells(sentences, options.min_count, options.window)
    every_cell = list(CellBatches(cells, 1 << 20))
    print(f"{len(cells):,} non-zero cells, {args.epochs} epochs, seed {args.seed}")
    print("| batch | lr | J after the last epoch | WordSim-353 (information only) | seconds |")
    print("|---:|---:|---:|---:|---:|")
    for setting in args.settings:
        batch, lr = int(setting.split(":")[0]), float(setting.split(":")[1])
        started = time.perf_counter()
        run = fit_glove(sentences, EmbedOptions(epochs=args.epochs, batch_size=batch, lr=lr, seed=args.seed,
                                                progress=False))
        seconds = time.perf_counter() - started
        with torch.no_grad():
            objective = sum(glove_loss(run.model, cells_batch).item() for cells_batch in every_cell)
        vectors = run.word_vectors()
        wordsim = similarity_table(vectors.words, vectors.vectors).loc["wordsim353", "spearman"]
        print(f"| {batch:,} | {lr:g} | {objective:,.0f} | {wordsim:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
