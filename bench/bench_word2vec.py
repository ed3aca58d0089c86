"""The book's SGNS (``python -m fromzero embed train --method sgns``) against gensim's Word2Vec.

Both run the same job as a whole new Python process, one after the other for each seed (alternating
which goes first, since the machine may be shared): start Python and import the library, read the
corpus file, train skip-gram with negative sampling, write the vectors in the word2vec text format.
The book's side is exactly the command line, ``python -m fromzero embed train --method sgns ...``;
gensim's is the few lines in :data:`GENSIM_SCRIPT`. Words per second is corpus tokens times epochs
divided by that whole wall time, the unit gensim reports. Quality is WordSim-353's Spearman
correlation and the Google analogies' 3CosAdd accuracy over covered items, averaged over the seeds.

The corpus is ~1.35 million real tokens, all offline: the small scale's text corpus (a Wikipedia
sample and the Lee news corpus, 527k tokens) and BBC News split into sentences (the distinct
articles only). Run with the project's environment:

    .venv/bin/python bench/bench_word2vec.py            # 3 seeds, the settings below
    .venv/bin/python bench/bench_word2vec.py --seeds 0  # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fromzero.data import load_bbc_news, text_corpus
from fromzero.data.text import tokenized_sentences
from fromzero.embeddings import WordVectors
from fromzero.embeddings.io import load_word2vec_format
from fromzero.evaluate import analogy_table, similarity_table

SETTINGS = {"dim": 100, "window": 5, "negative": 5, "epochs": 3, "min_count": 5, "subsample": 1e-3}


def build_corpus(path: Path) -> int:
    """Write the benchmark corpus to ``path``, one tokenised sentence per line; return its token count."""
    news = load_bbc_news().drop_duplicates("text")
    sentences = text_corpus("small") + [tokens for text in news["text"] for tokens in tokenized_sentences(text)]
    path.write_text("\n".join(" ".join(tokens) for tokens in sentences) + "\n", encoding="utf-8")
    return sum(len(tokens) for tokens in sentences)


GENSIM_SCRIPT = """
import sys
from gensim.models import Word2Vec

corpus, out, seed, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(corpus, encoding="utf-8") as handle:
    sentences = [line.split() for line in handle if line.strip()]
model = Word2Vec(sentences, sg=1, vector_size={dim}, window={window}, negative={negative}, epochs={epochs},
                 min_count={min_count}, sample={subsample}, workers=workers, seed=seed)
model.wv.save_word2vec_format(out)
""".format(**SETTINGS)


def fromzero_command(corpus: Path, out: Path, seed: int) -> list[str]:
    options = [f"--{name.replace('_', '-')}={value}" for name, value in SETTINGS.items()]
    return [sys.executable, "-m", "fromzero", "embed", "train", "--method", "sgns", "--corpus", str(corpus),
            "--out", str(out), *options, f"--seed={seed}", "--device=cpu"]


def run_timed(command: list[str]) -> float:
    """Wall seconds of a whole process; exits with its error output if it fails."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command[:6])} ... failed:\n{completed.stderr[-3000:]}")
    return seconds


def quality(vectors: WordVectors) -> dict[str, float]:
    similarity = similarity_table(vectors.words, vectors.vectors)
    analogies = analogy_table(vectors.words, vectors.vectors, methods=("3cosadd",))
    return {
        "wordsim353": float(similarity.loc["wordsim353", "spearman"]),
        "simlex999": float(similarity.loc["simlex999", "spearman"]),
        "analogy": float(analogies.loc["all", "3cosadd"]),
    }


def measure(name: str, corpus: Path, out: Path, seed: int, tokens: int, workers: int) -> dict[str, float]:
    if name == "fromzero":
        seconds = run_timed(fromzero_command(corpus, out, seed))
    else:
        seconds = run_timed([sys.executable, "-c", GENSIM_SCRIPT, str(corpus), str(out), str(seed), str(workers)])
    vectors = load_word2vec_format(out)
    return {"seconds": seconds, "words_per_second": tokens * SETTINGS["epochs"] / seconds, **quality(vectors)}


def report(results: dict[str, list[dict[str, float]]], seeds: list[int]) -> None:
    """Print the means as a Markdown table (for bench/README.md) and the speed ratio per seed."""
    means = {
        name: {key: statistics.mean(row[key] for row in rows) for key in rows[0]} for name, rows in results.items()
    }
    print(f"\nmean over seeds {seeds}:")
    print("| | words/s | WordSim-353 | SimLex-999 | analogy (3CosAdd) |")
    print("|---|---:|---:|---:|---:|")
    for name, mean in means.items():
        print(
            f"| {name} | {mean['words_per_second']:,.0f} | {mean['wordsim353']:.3f} | {mean['simlex999']:.3f} "
            f"| {mean['analogy']:.4f} |"
        )
    keys = ("words_per_second", "wordsim353", "simlex999", "analogy")
    ratios = [means["fromzero"][key] / means["gensim"][key] for key in keys]
    print("| ratio fromzero / gensim | " + " | ".join(f"{value:.2f}" for value in ratios) + " |")
    pairs = zip(results["fromzero"], results["gensim"], strict=True)
    speed = [ours["words_per_second"] / theirs["words_per_second"] for ours, theirs in pairs]
    print(f"speed ratio per seed: {', '.join(f'{value:.2f}' for value in speed)} (median {np.median(speed):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to average over (0 1 2)")
    parser.add_argument("--workers", type=int, default=2, help="gensim worker threads (2)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        tokens = build_corpus(corpus)
        print(f"corpus: {tokens:,} tokens; settings: skip-gram, {SETTINGS}; gensim workers={args.workers}")
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at start"
        )
        results: dict[str, list[dict[str, float]]] = {"fromzero": [], "gensim": []}
        for position, seed in enumerate(args.seeds):
            for name in ("fromzero", "gensim") if position % 2 == 0 else ("gensim", "fromzero"):
                row = measure(name, corpus, Path(folder) / f"{name}-{seed}.txt", seed, tokens, args.workers)
                results[name].append(row)
                print(
                    f"seed {seed} {name:>8}: {row['seconds']:6.1f} s, {row['words_per_second']:>9,.0f} words/s, "
                    f"WordSim-353 {row['wordsim353']:.3f}, SimLex-999 {row['simlex999']:.3f}, "
                    f"analogy {row['analogy']:.4f}  (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        report(results, args.seeds)


if __name__ == "__main__":
    main()
