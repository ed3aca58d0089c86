"""Tokeniser speed: the book's pure-Python byte-level BPE vs Hugging Face ``tokenizers`` (Rust), side by side.

Both train a byte-level BPE on the same texts (BBC News, all 2,127 distinct articles by default) to the same
vocabulary size, with the same pre-tokenisation (GPT-2's regular expression, no prefix space), the same 256-byte
alphabet and the same minimum pair frequency, then encode the same texts. Reported: training seconds, encoding
seconds and tokens per second, the ratio Hugging Face / book, the number of tokens each produces, and how many of
the book's merges Hugging Face also learned (ties between equally frequent pairs are broken differently, so the
lists need not be identical). Each measurement is the median of ``--repeats`` runs; the book's encoder starts
every run with an empty cache, since it caches the tokens of every chunk it has seen.

``tokenizers`` parallelises over texts with all cores unless ``RAYON_NUM_THREADS`` says otherwise; ``--threads 1``
sets it (before the library is imported) for a single-core comparison.

    .venv/bin/python bench/bench_tokenizers.py                         # vocabulary of 8,000, 3 repeats
    .venv/bin/python bench/bench_tokenizers.py --vocab-size 16000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from machine import describe_machine


def _median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _train_hugging_face(texts: list[str], vocab_size: int, min_frequency: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[],
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab-size", type=int, default=8000, help="vocabulary size for both (default 8000)")
    parser.add_argument("--min-frequency", type=int, default=2, help="rarest pair worth merging (default 2)")
    parser.add_argument("--texts", type=int, default=None, help="use only the first N articles (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--threads", type=int, default=None, help="RAYON_NUM_THREADS for tokenizers (default: all)")
    args = parser.parse_args()
    if args.threads is not None:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)

    import tokenizers

    from fromzero.data.sources import load_bbc_news
    from fromzero.tokenize import BPETokenizer

    texts = load_bbc_news().drop_duplicates("text")["text"].tolist()[: args.texts]
    n_bytes = sum(len(text.encode("utf-8")) for text in texts)

    def train_ours() -> BPETokenizer:
        return BPETokenizer.train(texts, args.vocab_size, min_frequency=args.min_frequency)

    def train_theirs() -> Any:
        return _train_hugging_face(texts, args.vocab_size, args.min_frequency)

    ours_train, ours = _median_seconds(train_ours, args.repeats)
    theirs_train, theirs = _median_seconds(train_theirs, args.repeats)

    def encode_ours() -> int:
        fresh = BPETokenizer(ours.merges, ours.pattern)  # an empty chunk cache, as a new process would have
        return sum(len(fresh.encode(text)) for text in texts)

    def encode_theirs() -> int:
        return sum(len(encoding.ids) for encoding in theirs.encode_batch_fast(texts))  # no character offsets

    ours_encode, ours_tokens = _median_seconds(encode_ours, args.repeats)
    theirs_encode, theirs_tokens = _median_seconds(encode_theirs, args.repeats)
    assert all(ours.decode(ours.encode(text)) == text for text in texts), "the book's BPE failed a round trip"

    our_merges = {(ours.token(left), ours.token(right)) for left, right in ours.merges}
    shared = len(our_merges & set(_merges_of(theirs)))

    print(f"machine: {describe_machine()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; tokenizers {tokenizers.__version__}, "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset (all cores)')}")
    print(f"corpus: {len(texts):,} BBC News articles, {n_bytes / 1e6:.2f} MB; vocabulary {args.vocab_size:,}, "
          f"min_frequency {args.min_frequency}, median of {args.repeats}")
    print()
    rows = [
        ("training, s", f"{ours_train:.2f}", f"{theirs_train:.2f}", f"{ours_train / theirs_train:.1f}x"),
        ("encoding all texts, s", f"{ours_encode:.2f}", f"{theirs_encode:.2f}", f"{ours_encode / theirs_encode:.1f}x"),
        ("encoding, MB/s", f"{n_bytes / 1e6 / ours_encode:.2f}", f"{n_bytes / 1e6 / theirs_encode:.2f}", ""),
        ("tokens produced", f"{ours_tokens:,}", f"{theirs_tokens:,}", ""),
        ("vocabulary", f"{ours.vocab_size:,}", f"{theirs.get_vocab_size():,}", ""),
    ]
    print(f"{'':<24}{'book (Python)':>16}{'HF tokenizers':>16}{'book / HF time':>16}")
    for name, book, hugging_face, ratio in rows:
        print(f"{name:<24}{book:>16}{hugging_face:>16}{ratio:>16}")
    print(f"merges of the book's that HF also learned: {shared:,} of {len(ours.merges):,} "
          f"({shared / len(ours.merges):.1%})")
    chunks = [chunk for text in texts for chunk in ours.pre_tokenize(text)]
    print(f"pre-tokenised chunks: {len(chunks):,}, of which distinct: {len(set(chunks)):,} "
          "(the book's encoder runs the merges once per distinct chunk and caches the result)")
    print("(book / HF time: how many times longer the book's code takes; below 1, it is faster)")


def _merges_of(tokenizer: Any) -> list[tuple[str, str]]:
    """The merge list of a trained Hugging Face BPE, read from its JSON form (``merges`` as pairs or 'a b')."""
    import json

    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge) for merge in merges]


if __name__ == "__main__":
    main()
