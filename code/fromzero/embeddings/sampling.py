"""What Word2Vec trains on, drawn in bulk: the corpus as word ids, subsampling, windows and negative words.

The fast trainer (:mod:`fromzero.embeddings.word2vec`) takes its examples a chunk of the corpus at a
time (:func:`prepare_chunks`): everything random about an epoch (which frequent words are dropped,
each position's window, the negative samples) is drawn for a quarter of a million tokens at once
with NumPy, by a thread of its own while the workers train (:func:`in_background`); a
:class:`Schedule` cuts the chunks into batches, each with its learning rate, for the workers. :func:`heldout_loss` draws
examples from text a run never saw the same way, to score it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from fromzero.embeddings.options import EmbedOptions
from fromzero.errors import InputError

if TYPE_CHECKING:
    from fromzero.embeddings.word2vec import Word2VecRun

NOISE_POWER = 0.75  # negatives are drawn from the unigram distribution raised to this power
NOISE_TABLE_SIZE = 10_000_000  # entries of the table negatives are drawn from, as in word2vec.c
NEGATIVE_GROUP = 8  # consecutive examples that share one draw of negative words
CHUNK_TOKENS = 1 << 18  # tokens prepared at a time: arrays of a few MB, which the allocator reuses
MIN_LR_FRACTION = 1e-4  # the learning rate decays linearly to this fraction of its start, as in word2vec.c
LOSS_EVERY = 50  # steps between two measurements of the loss, for the progress bar and the history
NO_PAIRS = "no sentence has two words of the vocabulary: there is no (word, context) pair to train on"


@dataclass
class EncodedCorpus:
    """A corpus as arrays of word ids, the vocabulary sorted by count (ties alphabetically).

    ``ids`` holds the corpus's in-vocabulary tokens in order and ``sentence`` the sentence each
    came from; words rarer than ``min_count`` are removed before windows are taken, as in
    word2vec.c and gensim, so a window reaches past them. ``tokens`` counts every token read.
    """

    words: list[str]
    counts: np.ndarray
    ids: np.ndarray
    sentence: np.ndarray
    tokens: int


def encode_corpus(sentences: Sequence[Sequence[str]], min_count: int) -> EncodedCorpus:
    """Count the words, keep those seen ``min_count`` times or more, and turn the corpus into ids.

    One pass over the tokens gives each word type a provisional id (in order of first appearance);
    NumPy counts them and maps them to the final, frequency-sorted ids: a million tokens take a
    fraction of a second.
    """
    if isinstance(sentences, str) or any(isinstance(sentence, str) for sentence in sentences[:1]):
        raise InputError("sentences must be lists of tokens, e.g. [['the', 'cat'], ...], not strings")
    type_ids: dict[str, int] = {}
    flat = np.fromiter(
        (type_ids.setdefault(word, len(type_ids)) for word in chain.from_iterable(sentences)), dtype=np.int64
    )
    if len(flat) == 0:
        raise InputError("empty corpus: the sentences hold no tokens")
    types = list(type_ids)
    type_counts = np.bincount(flat, minlength=len(types))
    counts = type_counts.tolist()
    kept = sorted(np.flatnonzero(type_counts >= min_count).tolist(), key=lambda i: (-counts[i], types[i]))
    if not kept:
        raise InputError(
            f"no word occurs at least min_count={min_count} times in the corpus ({len(types)} distinct words, "
            f"the most frequent seen {type_counts.max()} times): lower --min-count or use a larger corpus"
        )
    final_ids = np.full(len(types), -1, dtype=np.int64)
    final_ids[kept] = np.arange(len(kept))
    ids = final_ids[flat]
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    sentence = np.repeat(np.arange(len(sentences), dtype=np.int64), lengths)
    inside = ids >= 0
    return EncodedCorpus([types[i] for i in kept], type_counts[kept], ids[inside], sentence[inside], len(flat))


def keep_probabilities(counts: np.ndarray, threshold: float) -> np.ndarray:
    """The probability of keeping each occurrence of a word when subsampling frequent words.

    With ``f`` a word's share of the corpus and ``t`` the threshold, word2vec.c and gensim keep it
    with probability ``sqrt(t / f) + t / f`` (at most 1); Mikolov et al. (2013b) print the simpler
    ``sqrt(t / f)``. Words rarer than about ``t`` are always kept. ``threshold=0`` turns
    subsampling off.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if threshold == 0:
        return np.ones_like(counts)
    ratio = threshold / (counts / counts.sum())
    return np.minimum(1.0, np.sqrt(ratio) + ratio)


def noise_distribution(counts: np.ndarray, power: float = NOISE_POWER) -> np.ndarray:
    """The distribution negatives are drawn from: counts raised to ``power``, normalised."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def noise_table(probabilities: np.ndarray, size: int = NOISE_TABLE_SIZE) -> np.ndarray:
    """A table in which word ``i`` fills a share ``probabilities[i]`` of the entries (to within one entry).

    Drawing a uniform random entry then draws a word from the distribution in constant time,
    which is word2vec.c's trick; a binary search per draw would cost ``log |V|``. The entries are
    32-bit, which halves the table (40 MB at the default size) and the time to build it.
    """
    boundaries = np.rint(np.cumsum(probabilities) * size).astype(np.int64)
    return np.repeat(np.arange(len(probabilities), dtype=np.int32), np.diff(boundaries, prepend=0))


def window_reach(sentence: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """Each position's window size, drawn uniformly from 1 to ``window`` as in word2vec.c.

    A neighbour at distance ``k`` is then used with probability ``(window - k + 1) / window``:
    near words count more than far ones, without any weights in the loss.
    """
    return rng.integers(1, window + 1, size=len(sentence))


def skipgram_pairs(sentence: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``(centre, context)`` of every skip-gram pair of a run of tokens.

    ``sentence[i]`` is the sentence of position ``i``: windows stop at sentence boundaries. The
    pairs come grouped by offset (every pair at distance +1, then -1, +2, ...), so consecutive
    pairs have different centre words, which is what sharing negatives between neighbouring
    pairs needs; in text order, up to ten pairs in a row would share one centre.
    """
    reach = window_reach(sentence, window, rng)
    centres, contexts = [], []
    for distance in range(1, window + 1):
        same = sentence[distance:] == sentence[:-distance]
        left = np.flatnonzero(same & (reach[:-distance] >= distance))  # centre on the left
        right = np.flatnonzero(same & (reach[distance:] >= distance)) + distance  # centre on the right
        centres += [left, right]
        contexts += [left + distance, right - distance]
    return np.concatenate(centres), np.concatenate(contexts)


def window_spans(sentence: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """How many context words each position has on its left, and in all: its window cut at its sentence's ends.

    The window sizes are :func:`window_reach`'s draws, so the windows are :func:`skipgram_pairs`'s; a
    position's context is then the run of ``sizes[i] + 1`` positions from ``i - left[i]``, less ``i`` itself.
    """
    reach = window_reach(sentence, window, rng)
    position = np.arange(len(sentence))
    begins = np.diff(sentence, prepend=-1) != 0  # True where a sentence begins (sentence numbers are >= 0)
    starts = np.flatnonzero(begins)
    sentence_of = np.cumsum(begins) - 1  # 0, 0, 1, 1, 1, 2, ...: each position's sentence, counted in this run
    ends = np.append(starts[1:], len(sentence))  # where each sentence stops (exclusive)
    left = np.minimum(reach, position - starts[sentence_of])
    right = np.minimum(reach, ends[sentence_of] - 1 - position)
    return left, left + right


def span_contexts(centres: np.ndarray, left: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The context positions of ``centres``, one after another, from their spans (:func:`window_spans`)."""
    first, counts = centres - left[centres], sizes[centres]
    places = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)  # 0, 1, .., 0, 1, ..
    return np.repeat(first, counts) + places + (places >= np.repeat(left[centres], counts))  # skip the centre


def cbow_windows(sentence: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``(centre, context)`` of every CBOW window of a run of tokens, centre by centre.

    Same windows as :func:`skipgram_pairs`, but sorted by centre (text order), so that each
    centre's context words are contiguous. Centres without any context (one-word sentences) are absent.
    """
    left, sizes = window_spans(sentence, window, rng)
    centres = np.flatnonzero(sizes)
    return np.repeat(centres, sizes[centres]), span_contexts(centres, left, sizes)


def interleave(count: int, stride: int) -> np.ndarray:
    """An order of ``count`` items (a multiple of ``stride``) in which consecutive items lie ``count / stride`` apart.

    CBOW trains neighbouring centres, whose windows overlap, one after the other; interleaving
    them makes the ``stride`` examples of a group that share negatives come from different parts
    of the text.
    """
    return np.arange(count).reshape(stride, count // stride).T.ravel()


@dataclass
class Chunk:
    """The training examples of one chunk of the corpus, ready for the device."""

    epoch: int
    start: int  # position of the chunk's first token in the corpus
    tokens: int  # the chunk's number of tokens before subsampling
    targets: torch.Tensor  # (n,) the word each example predicts
    inputs: torch.Tensor  # sgns, fasttext: (n,) centre words; cbow: (p,) context words of all examples, in order
    rows: torch.Tensor | None  # cbow: (p,) the example each context word belongs to
    context_starts: np.ndarray | None  # cbow: (n + 1,) where each example's context words start in ``inputs``
    noise: torch.Tensor  # (n // NEGATIVE_GROUP, K) negative words, one draw per group
    clash: torch.Tensor  # (n // NEGATIVE_GROUP, NEGATIVE_GROUP, K) True where a negative is the example's target


def prepare_chunks(
    corpus: EncodedCorpus, architecture: str, options: EmbedOptions, rng: np.random.Generator
) -> Iterator[Chunk]:
    """Every chunk of every epoch: subsampled, windowed, with its negatives drawn."""
    keep = keep_probabilities(corpus.counts, options.subsample)
    table = noise_table(noise_distribution(corpus.counts))
    total = len(corpus.ids)
    for epoch in range(options.epochs):
        for start in range(0, total, CHUNK_TOKENS):
            ids = corpus.ids[start : start + CHUNK_TOKENS]
            kept = rng.random(len(ids)) < keep[ids]
            ids, sentence = ids[kept], corpus.sentence[start : start + CHUNK_TOKENS][kept]
            if architecture == "sgns":
                targets, inputs, rows, context_starts = _skipgram_examples(ids, sentence, options.window, rng)
            elif architecture == "fasttext":
                targets, inputs, rows, context_starts = _pairs_in_text_order(ids, sentence, options.window, rng)
            else:
                targets, inputs, rows, context_starts = _cbow_examples(ids, sentence, options.window, rng)
            draws = rng.integers(0, len(table), size=(len(targets) // NEGATIVE_GROUP, options.negative))
            noise = table[draws].astype(np.int64)  # scatter_add_ takes 64-bit indices
            clash = noise[:, None, :] == targets.reshape(-1, NEGATIVE_GROUP, 1)
            yield Chunk(
                epoch,
                start,
                min(CHUNK_TOKENS, total - start),
                torch.from_numpy(targets),
                torch.from_numpy(inputs),
                None if rows is None else torch.from_numpy(rows),
                context_starts,
                torch.from_numpy(noise),
                torch.from_numpy(clash),
            )


def _skipgram_examples(
    ids: np.ndarray, sentence: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, None, None]:
    """Targets (context words) and inputs (centre words), trimmed to whole groups of NEGATIVE_GROUP."""
    centres, contexts = skipgram_pairs(sentence, window, rng)
    usable = len(centres) - len(centres) % NEGATIVE_GROUP
    return ids[contexts[:usable]], ids[centres[:usable]], None, None


def _pairs_in_text_order(
    ids: np.ndarray, sentence: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, None, None]:
    """Skip-gram's targets and inputs, centre by centre in text order, trimmed to whole groups of NEGATIVE_GROUP.

    FastText's trainer averages the subword rows of each distinct centre word of a batch once: a batch of
    pairs in text order holds a few hundred distinct centres where :func:`skipgram_pairs`'s order (one offset
    at a time) holds thousands. Consecutive pairs then share their centre, and so do a group's negatives, as
    in :func:`fromzero.embeddings.fasttext.sgns_loss`.
    """
    centres, contexts = cbow_windows(sentence, window, rng)
    usable = len(centres) - len(centres) % NEGATIVE_GROUP
    return ids[contexts[:usable]], ids[centres[:usable]], None, None


def _cbow_examples(
    ids: np.ndarray, sentence: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Targets (centre words), their context words, the example of each context word, and where each example starts.

    The examples are interleaved (see :func:`interleave`) and trimmed to whole groups.
    """
    left, sizes = window_spans(sentence, window, rng)
    examples = np.flatnonzero(sizes)
    usable = len(examples) - len(examples) % NEGATIVE_GROUP
    examples = examples[interleave(usable, NEGATIVE_GROUP)]
    counts = sizes[examples]
    rows = np.repeat(np.arange(usable), counts)
    context_starts = np.concatenate([[0], np.cumsum(counts)])
    return ids[examples], ids[span_contexts(examples, left, sizes)], rows, context_starts


@dataclass
class Batch:
    """One step's work: which examples of which chunk, at what learning rate."""

    chunk: Chunk
    examples: slice
    lr: float
    words_done: float  # corpus tokens processed before this batch, epochs included (in-vocabulary tokens)
    with_loss: bool


class Schedule:
    """Hands out the batches of every chunk, in order, to the workers that train; thread-safe.

    The learning rate of a batch depends only on its position in the corpus, so it is the same
    whichever worker takes it and whenever. The progress bar advances as chunks are handed out.
    """

    def __init__(self, chunks: Iterator[Chunk], batch: int, lr: float, corpus_length: int, bar: tqdm) -> None:
        """``corpus_length`` is the number of in-vocabulary tokens; ``bar.total`` counts them over all epochs."""
        self.items = self._batches(chunks, batch, lr, corpus_length, bar)
        self.lock = threading.Lock()
        self.stopped = False
        self.examples = 0

    def _batches(
        self, chunks: Iterator[Chunk], batch: int, lr: float, corpus_length: int, bar: tqdm
    ) -> Iterator[Batch]:
        total = bar.total
        steps = 0
        for chunk in chunks:
            examples = len(chunk.targets)
            for start in range(0, examples, batch):
                done = chunk.epoch * corpus_length + chunk.start + chunk.tokens * start / max(examples, 1)
                step_lr = lr * max(MIN_LR_FRACTION, 1 - done / total)
                yield Batch(chunk, slice(start, min(start + batch, examples)), step_lr, done, steps % LOSS_EVERY == 0)
                steps += 1
            self.examples += examples
            bar.update(chunk.tokens)

    def next(self) -> Batch | None:
        with self.lock:
            return None if self.stopped else next(self.items, None)

    def stop(self) -> None:
        """Hand out nothing more: the workers finish their current batch and return."""
        self.stopped = True

    def close(self) -> None:
        """Release the chunks' background thread (call once no worker is running)."""
        self.items.close()


def in_background(chunks: Iterator[Chunk], device: torch.device, depth: int = 2) -> Iterator[Chunk]:
    """Run ``chunks`` in a second thread, ``depth`` chunks ahead, and yield them on ``device``.

    NumPy releases the interpreter lock for its bulk work, so preparing the next chunk overlaps
    with training on this one. The order of the chunks, hence every random draw, is unchanged.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                _put(ready, _to_device(chunk, device), stop)
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the training thread, which raises it
            _put(ready, error, stop)
            return
        _put(ready, None, stop)

    worker = threading.Thread(target=produce, name="word2vec-chunks", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _put(ready: queue.Queue, item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _to_device(chunk: Chunk, device: torch.device) -> Chunk:
    if device.type == "cpu":
        return chunk
    rows = None if chunk.rows is None else chunk.rows.to(device)
    targets, inputs, noise = chunk.targets.to(device), chunk.inputs.to(device), chunk.noise.to(device)
    clash = chunk.clash.to(device)
    return Chunk(chunk.epoch, chunk.start, chunk.tokens, targets, inputs, rows, chunk.context_starts, noise, clash)


def heldout_loss(
    run: Word2VecRun, sentences: Sequence[Sequence[str]], options: EmbedOptions, architecture: str = "sgns"
) -> float:
    """The mean negative-sampling loss per example of ``run`` on ``sentences`` it did not train on.

    The examples are made as training makes them (subsampling, random windows, ``options.negative``
    noise words from the training counts), drawn with ``options.seed``: runs scored with the same
    options are scored on the same examples, so the loss can choose between their settings without
    looking at any benchmark. Words outside the run's vocabulary are dropped, as in training.
    """
    row_of = {word: row for row, word in enumerate(run.vectors.words)}
    rows = [(row_of[word], number) for number, sentence in enumerate(sentences) for word in sentence if word in row_of]
    if not rows:
        raise InputError("no held-out word is in the run's vocabulary: nothing to score")
    ids, sentence = (np.array(column) for column in zip(*rows, strict=True))
    rng = np.random.default_rng(options.seed)
    kept = rng.random(len(ids)) < keep_probabilities(run.counts, options.subsample)[ids]
    ids, sentence = ids[kept], sentence[kept]
    if architecture == "sgns":
        centres, contexts = skipgram_pairs(sentence, options.window, rng)
        targets, inputs = ids[contexts], run.vectors.vectors[ids[centres]]  # (n,), (n, d)
    else:
        centres, contexts = cbow_windows(sentence, options.window, rng)
        windows, example = np.unique(centres, return_inverse=True)
        inputs = np.zeros((len(windows), run.vectors.vectors.shape[1]))
        np.add.at(inputs, example, run.vectors.vectors[ids[contexts]])
        inputs /= np.bincount(example)[:, None]  # (n, d): the mean of each window's context vectors
        targets = ids[windows]
    noise = rng.choice(len(run.counts), size=(len(targets), options.negative), p=noise_distribution(run.counts))
    positive = np.einsum("nd,nd->n", inputs, run.output_vectors[targets])  # (n,)
    negative = np.einsum("nd,nkd->nk", inputs, run.output_vectors[noise])  # (n, K)
    return float(np.mean(np.logaddexp(0, -positive) + np.logaddexp(0, negative).sum(axis=1)))
