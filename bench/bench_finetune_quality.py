"""Does ``python -m fromzero finetune classify --model small`` with default settings beat TF-IDF + LR?

The data are BBC News (the small scale's fixed split): a stratified sample of the training split for
training, the whole test split for scoring. The fine-tuning run is the command line exactly as a user
types it, with no option but the data (3 epochs, lr 5e-5, batch 16, 128 word pieces); its accuracy
is the last line of its output. The baseline is scikit-learn's TF-IDF with default settings and a
logistic regression, trained on the same TSV file and scored on the same test file. Both numbers and
the command's wall time are printed, then one JSON line.

    .venv/bin/python bench/bench_finetune_quality.py                  # 100 training articles per topic
    .venv/bin/python bench/bench_finetune_quality.py --per-class 40   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe_machine
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from fromzero.data.loaders import classification_data
from fromzero.data.readers import read_tsv


def write_split(folder: Path, per_class: int) -> tuple[Path, Path]:
    """The training sample and the test split as the TSV files the command line reads."""
    data = classification_data("small")
    train = data.train.groupby("label").head(per_class)
    train_path, test_path = folder / "train.tsv", folder / "test.tsv"
    for frame, path in ((train, train_path), (data.test, test_path)):
        # The command line's TSV is literal (no quoting), so an article's line breaks and tabs become spaces.
        flat = frame["text"].str.replace(r"\s+", " ", regex=True).str.strip()
        rows = [f"{text}\t{label}\n" for text, label in zip(flat, frame["label"], strict=True)]
        path.write_text("text\tlabel\n" + "".join(rows), encoding="utf-8")
    return train_path, test_path


def tfidf_accuracy(train_path: Path, test_path: Path) -> float:
    train, test = (read_tsv(path) for path in (train_path, test_path))
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))
    model.fit(train["text"], train["label"])
    return float(model.score(test["text"], test["label"]))


def finetune_accuracy(train_path: Path, test_path: Path) -> tuple[float, float]:
    command = [sys.executable, "-m", "fromzero", "finetune", "classify", "--model", "small",
               "--train", str(train_path), "--eval", str(test_path)]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    return json.loads(finished.stdout.strip().splitlines()[-1])["accuracy"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100, help="training articles per topic (100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        train_path, test_path = write_split(Path(folder), args.per_class)
        n_train = sum(1 for _ in train_path.open(encoding="utf-8")) - 1
        n_test = sum(1 for _ in test_path.open(encoding="utf-8")) - 1
        baseline = tfidf_accuracy(train_path, test_path)
        finetuned, seconds = finetune_accuracy(train_path, test_path)
    print(f"machine: {describe_machine()}")
    print(f"{n_train} training articles, {n_test} test articles")
    print(f"TF-IDF + LR accuracy                      {baseline:.4f}")
    print(f"finetune classify --model small accuracy  {finetuned:.4f}   ({seconds:.0f} s, whole command)")
    print(json.dumps({"n_train": n_train, "n_test": n_test, "tfidf_lr": baseline, "finetune_small": finetuned,
                      "finetune_seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
