"""FastText (Bojanowski, Grave, Joulin and Mikolov, 2017): skip-gram over character n-grams.

A word is the bag of its character n-grams, ``<where>`` giving ``<wh, whe, her, ere, re>, <whe, ...``
for n = 3..6, plus the word itself. Each n-gram is hashed (FNV-1a, exactly as fastText and gensim
hash it) into one of ``buckets`` rows, and the word's input vector is the mean of its rows. The
rest is Word2Vec's skip-gram with negative sampling. Since every string has n-grams, any word,
misspelt or never seen, gets a vector: that is what Chapter 4 is about.

Two trainers share the model. :func:`fit_fasttext`, the one Chapter 4 reads, goes through the book's one
loop, :func:`fromzero.train.fit`, with plain SGD whose rate falls linearly to zero, as in fastText. A
batch holds centre words with all their context words, so a centre's n-gram vectors are averaged once
per batch rather than once per context word. The batch is small (256 centres) because SGD sums the
gradients of a batch: n-grams such as ``ed>`` or ``ing`` occur in a large share of all words, and with
much larger batches their summed step overshoots. :func:`train_fasttext`, behind ``python -m fromzero
embed train --method fasttext``, trains the same model with Word2Vec's fast trainer
(:class:`SubwordTables`): gradients by hand instead of autograd, large batches whose crowded rows are
capped, several workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fromzero.data.vocab import Vocabulary
from fromzero.device import one_cpu_thread, pick_device, require_memory
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.embeddings.sampling import NO_PAIRS, Chunk, keep_probabilities
from fromzero.embeddings.word2vec import InputSide, SgdTables, add_rows, train_fast
from fromzero.errors import InputError
from fromzero.history import History
from fromzero.train import TrainConfig, fit

MIN_N, MAX_N = 3, 6  # n-gram lengths, the paper's (and fastText's) defaults
BUCKETS = 2_000_000  # hash buckets, fastText's default
DEFAULT_EPOCHS = 5  # fastText's default
DEFAULT_LR = 0.05  # fastText's skip-gram rate, falling linearly to 0
DEFAULT_BATCH_SIZE = 256  # fit_fasttext: centre words per update (each with up to 2 * window context words)
FAST_BATCH_SIZE = 4096  # train_fasttext: (centre, context) pairs per update
NEGATIVE_POWER = 0.75  # negatives are drawn from the unigram distribution raised to this power

_FNV_OFFSET, _FNV_PRIME = 2166136261, 16777619


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash, with fastText's quirk: bytes are sign-extended from ``int8`` first.

    fastText XORs each byte as ``uint32_t(int8_t(c))``, so a byte of 128 or more (any non-ASCII
    UTF-8 byte) becomes ``0xFFFFFF..``. Reproducing it keeps our buckets identical to fastText's
    and gensim's, so vectors can be compared n-gram by n-gram.
    """
    value = _FNV_OFFSET
    for byte in data:
        value ^= byte if byte < 128 else byte | 0xFFFFFF00
        value = (value * _FNV_PRIME) & 0xFFFFFFFF
    return value


def check_ngram_range(min_n: int, max_n: int) -> None:
    """``max_n = 0`` switches n-grams off (a plain word-level skip-gram); otherwise 1 <= min_n <= max_n."""
    if max_n == 0:
        return
    if not 1 <= min_n <= max_n:
        raise InputError(f"n-gram lengths need 1 <= min_n <= max_n (or max_n = 0 for none), got {min_n}..{max_n}")


def char_ngrams(word: str, min_n: int = MIN_N, max_n: int = MAX_N) -> list[str]:
    """The character n-grams of ``<word>``, shortest first, each length in reading order.

    The boundary symbols ``<`` and ``>`` make prefixes and suffixes distinct from the same letters
    inside a word (``<re`` in *redo*, ``re>`` in *where*). The whole ``<word>`` is included when it
    is short enough, as in fastText; a bare ``<`` or ``>`` never is.
    """
    check_ngram_range(min_n, max_n)
    if max_n == 0:
        return []
    marked = f"<{word}>"
    return [
        marked[start : start + n]
        for n in range(min_n, max_n + 1)
        for start in range(len(marked) - n + 1)
        if marked[start : start + n] not in ("<", ">")
    ]


def ngram_bucket(ngram: str, buckets: int = BUCKETS) -> int:
    """The bucket (row of the n-gram table) that ``ngram`` hashes to: FNV-1a of its UTF-8 bytes, modulo ``buckets``."""
    return fnv1a_32(ngram.encode("utf-8")) % buckets


def ngram_buckets(ngrams: Sequence[str], buckets: int = BUCKETS) -> np.ndarray:
    """:func:`ngram_bucket` of every one of ``ngrams`` at once: :func:`fnv1a_32` one byte position at a time
    over all of them, in NumPy (a vocabulary has hundreds of thousands of n-grams)."""
    data = [ngram.encode("utf-8") for ngram in ngrams]
    if not data:
        return np.zeros(0, dtype=np.int64)
    lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    width = int(lengths.max(initial=0))
    padded = np.frombuffer(b"".join(item.ljust(width, b"\0") for item in data), dtype=np.int8).reshape(-1, width)
    value = np.full(len(data), _FNV_OFFSET, dtype=np.uint32)
    for position in range(width):
        mixed = (value ^ padded[:, position].astype(np.uint32)) * np.uint32(_FNV_PRIME)  # int8 -> uint32 sign-extends
        value = np.where(lengths > position, mixed, value)
    return (value % buckets).astype(np.int64)


class FastTextModel(nn.Module):
    """Input vectors for the vocabulary's words and n-gram buckets, output vectors for the words.

    Of the ``buckets`` hash rows only those that some vocabulary word uses ever receive a gradient;
    fastText keeps the others at their random initial values. We store only the used ones, so two
    million buckets cost nothing, and an unseen word's n-gram that lands in an unused bucket simply
    contributes nothing to its vector (rather than random noise).
    """

    def __init__(
        self, words: Sequence[str], dim: int, *, min_n: int = MIN_N, max_n: int = MAX_N, buckets: int = BUCKETS
    ) -> None:
        super().__init__()
        check_ngram_range(min_n, max_n)
        if buckets < 1:
            raise InputError(f"buckets must be at least 1, got {buckets}")
        self.words = list(words)
        self.word_index = {word: i for i, word in enumerate(self.words)}
        self.min_n, self.max_n, self.buckets = min_n, max_n, buckets
        grams = [char_ngrams(word, min_n, max_n) for word in self.words]
        sizes = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
        distinct: dict[str, int] = {}  # each n-gram of the vocabulary, numbered: hashed once, however often it occurs
        codes = np.fromiter((distinct.setdefault(gram, len(distinct)) for found in grams for gram in found),
                            dtype=np.int64, count=int(sizes.sum()))
        gram_buckets = ngram_buckets(list(distinct), buckets)[codes]
        self.used_buckets = np.unique(gram_buckets)
        self.bucket_row = {bucket: len(self.words) + k for k, bucket in enumerate(self.used_buckets.tolist())}
        # Row lists of every word (its own row, then its n-grams'), flattened: word i owns
        # subword_rows[subword_start[i] : subword_start[i] + subword_count[i]].
        counts = sizes + 1
        starts = np.cumsum(counts) - counts
        rows = np.empty(int(counts.sum()), dtype=np.int64)
        rows[starts] = np.arange(len(self.words))
        is_gram = np.ones(len(rows), dtype=bool)
        is_gram[starts] = False
        rows[is_gram] = len(self.words) + np.searchsorted(self.used_buckets, gram_buckets)
        self.register_buffer("subword_rows", torch.from_numpy(rows))
        self.register_buffer("subword_count", torch.from_numpy(counts))
        self.register_buffer("subword_start", torch.from_numpy(starts))
        self.input = nn.Embedding(len(self.words) + len(self.used_buckets), dim, sparse=True)
        self.output = nn.Embedding(len(self.words), dim, sparse=True)
        nn.init.uniform_(self.input.weight, -1.0 / dim, 1.0 / dim)  # fastText's initialisation
        nn.init.zeros_(self.output.weight)  # as in fastText and Word2Vec

    def ngram_buckets(self, word: str) -> list[int]:
        """The bucket of each of ``word``'s n-grams (repeats kept: an n-gram seen twice counts twice)."""
        return [ngram_bucket(ngram, self.buckets) for ngram in char_ngrams(word, self.min_n, self.max_n)]

    def forward(self, centres: torch.Tensor) -> torch.Tensor:
        """The input vectors of vocabulary words ``centres``: the mean of each one's subword rows."""
        counts = self.subword_count[centres]
        offsets = torch.cumsum(counts, 0) - counts
        within = torch.arange(int(counts.sum()), device=centres.device) - torch.repeat_interleave(offsets, counts)
        rows = self.subword_rows[torch.repeat_interleave(self.subword_start[centres], counts) + within]
        hidden = F.embedding_bag(rows, self.input.weight, offsets, mode="mean", sparse=True)
        if hidden.requires_grad:
            # fastText's convention (gensim's too): every subword row moves by the whole gradient of
            # the mean, not by its 1/n share; fastText's learning rate is tuned for that.
            hidden.register_hook(lambda grad: grad * counts[:, None].to(grad.dtype))
        return hidden

    @torch.no_grad()
    def vector(self, word: str) -> np.ndarray:
        """A vector for any string: the mean of its known subword rows (its own row too, if it is in the vocabulary).

        A string none of whose n-grams a training word shares gets the zero vector: there is
        nothing to go on, and cosine similarity treats it as unrelated to everything.
        """
        rows = [self.word_index[word]] if word in self.word_index else []
        rows += [self.bucket_row[b] for b in self.ngram_buckets(word) if b in self.bucket_row]
        if not rows:
            return np.zeros(self.input.embedding_dim, dtype=np.float32)
        table = self.input.weight
        return table[torch.tensor(rows, device=table.device)].mean(dim=0).cpu().numpy()

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """:meth:`vector` of each of ``words``, stacked."""
        if not words:
            return np.zeros((0, self.input.embedding_dim), dtype=np.float32)
        return np.stack([self.vector(word) for word in words])

    @torch.no_grad()
    def word_vectors(self) -> WordVectors:
        """The vocabulary's vectors (word row and n-gram rows averaged), as every method returns them."""
        table = self.input.weight
        vectors = torch.cat([self(chunk) for chunk in torch.arange(len(self.words), device=table.device).split(4096)])
        return WordVectors(list(self.words), vectors.cpu().numpy())


def sgns_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Skip-gram with negative sampling, summed over the batch's (centre, context) pairs.

    For a centre's vector h, a true context word's output vector u and k noise words' n_1..n_k,
    a pair costs -log sigma(u . h) - sum_i log sigma(-n_i . h). The k noise words are drawn once
    per centre and shared by its context words: the expected gradient is the same as with fresh
    noise words for every pair, at a fraction of the cost. (A noise word that happens to be the true
    context is kept, where word2vec.c would skip it; among thousands of words that is rare.) A sum,
    not a mean: with plain SGD every pair then moves the vectors about as much as in fastText,
    where each pair is its own update.
    """
    centres, contexts, valid, negatives = batch
    hidden = model(centres)  # (B, d)
    positive = (model.output(contexts) * hidden[:, None, :]).sum(-1)  # (B, C)
    negative = (model.output(negatives) * hidden[:, None, :]).sum(-1)  # (B, k)
    # -log sigma(x) = softplus(-x); each noise term counts once per valid context slot.
    per_centre = (F.softplus(-positive) * valid).sum(-1) + valid.sum(-1) * F.softplus(negative).sum(-1)
    return per_centre.sum()


def noise_table(counts: np.ndarray, size: int = 1_000_000) -> torch.Tensor:
    """Word ids repeated in proportion to count^0.75: a uniform draw from it is a draw of a noise word.

    Word2Vec's and fastText's trick: one random index instead of a search through the cumulative
    distribution. The power 0.75 gives rare words a little more than their share.
    """
    weights = counts.astype(np.float64) ** NEGATIVE_POWER
    copies = np.maximum(1, np.round(weights / weights.sum() * size)).astype(np.int64)
    return torch.repeat_interleave(torch.arange(len(counts)), torch.from_numpy(copies))


class SkipGramBatches:
    """Batches of ``(centres, contexts, valid, negatives)``, redrawn every epoch.

    Each epoch subsamples frequent words (removing them before windows are taken, which widens the
    window, as in Word2Vec) and shuffles the centres. Every centre gets a window size drawn from
    1..``window``, so nearer words count more often; ``valid`` marks the context slots inside that
    window and inside the centre's sentence, and each centre gets ``negative`` noise words. All draws
    come from PyTorch's global generator, which :func:`fit` seeds and restores on resume. The
    number of batches is fixed from the expected number of kept words, so that the loop knows the
    length of an epoch; batch sizes vary slightly around ``batch_size``.
    """

    def __init__(
        self,
        sentences: Sequence[np.ndarray],
        counts: np.ndarray,
        *,
        window: int,
        negative: int,
        subsample: float,
        batch_size: int,
    ) -> None:
        self.stream = torch.from_numpy(np.concatenate(sentences))
        self.sentence = torch.repeat_interleave(torch.arange(len(sentences)), torch.tensor([len(s) for s in sentences]))
        self.keep = torch.from_numpy(keep_probabilities(counts, subsample)).float()
        self.noise_table = noise_table(counts)
        self.window, self.negative = window, negative
        self.offsets = torch.tensor([d for d in range(-window, window + 1) if d != 0])
        self.batches = max(1, math.ceil(float(self.keep[self.stream].sum()) / batch_size))

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        kept = torch.rand(len(self.stream)) < self.keep[self.stream]
        words, sentence = self.stream[kept], self.sentence[kept]
        for centres in torch.tensor_split(torch.randperm(len(words)), self.batches):
            positions = centres[:, None] + self.offsets[None, :]
            inside = (positions >= 0) & (positions < len(words))
            positions = positions.clamp(0, max(len(words) - 1, 0))
            reach = torch.randint(1, self.window + 1, (len(centres), 1))
            valid = inside & (sentence[positions] == sentence[centres, None]) & (self.offsets.abs() <= reach)
            negatives = self.noise_table[torch.randint(len(self.noise_table), (len(centres), self.negative))]
            yield words[centres], words[positions], valid.float(), negatives


@dataclass
class FastTextRun:
    """What :func:`fit_fasttext` trained: the model (which gives vectors for any word) and the loss history."""

    model: FastTextModel
    history: History

    def word_vectors(self) -> WordVectors:
        return self.model.word_vectors()


def fit_fasttext(
    sentences: Sequence[Sequence[str]],
    options: EmbedOptions,
    *,
    min_n: int = MIN_N,
    max_n: int = MAX_N,
    buckets: int = BUCKETS,
) -> FastTextRun:
    """Train FastText on ``sentences``, keeping the model (for any word's vector) and the loss history.

    Words seen fewer than ``options.min_count`` times are dropped from the text, as fastText does;
    ``max_n=0`` trains a plain word-level skip-gram with the same code, for comparisons.
    """
    check_ngram_range(min_n, max_n)
    if options.negative < 1:
        raise InputError("FastText's skip-gram needs at least one negative sample per pair: set negative to 1 or more")
    vocabulary = Vocabulary.build(sentences, min_count=options.min_count)
    words = [token for token in vocabulary.tokens if token != vocabulary.unk_token]
    index = {word: i for i, word in enumerate(words)}
    encoded = [np.array([index[t] for t in sentence if t in index], dtype=np.int64) for sentence in sentences]
    encoded = [ids for ids in encoded if len(ids) > 1]
    if not encoded:
        raise InputError(NO_PAIRS)
    counts = np.array([vocabulary.counts[vocabulary.index(word)] for word in words], dtype=np.int64)
    batches = SkipGramBatches(
        encoded,
        counts,
        window=options.window,
        negative=options.negative,
        subsample=options.subsample,
        batch_size=options.batch_size or DEFAULT_BATCH_SIZE,
    )
    device = pick_device(options.device)
    require_memory(2 * len(words) * options.dim * 4,
                   f"FastText's word tables ({len(words):,} words x dim {options.dim:,})", device)
    torch.manual_seed(options.seed)
    model = FastTextModel(words, options.dim, min_n=min_n, max_n=max_n, buckets=buckets)
    model.to(device)
    lr = options.lr or DEFAULT_LR
    config = TrainConfig(
        epochs=options.epochs or DEFAULT_EPOCHS,
        lr=lr,
        schedule="linear",
        max_grad_norm=None,
        mixed_precision="no",
        seed=options.seed,
        device=options.device,
        progress=options.progress,
        log_every=50,
    )
    with one_cpu_thread(model.input.weight.device):
        history = fit(model, batches, sgns_loss, config, optimizer=torch.optim.SGD(model.parameters(), lr=lr))
    return FastTextRun(model, history)


class SubwordTables(SgdTables):
    """A :class:`FastTextModel`'s tables, trained by Word2Vec's fast skip-gram trainer.

    An example is a (centre, context) pair, as in skip-gram; the centre's input vector is the mean of its
    subword rows. The pairs come in text order, centre by centre, so a batch of thousands of pairs holds a few
    hundred distinct centre words (:mod:`fromzero.embeddings.sampling`); each distinct word's
    mean is computed once, its pairs' gradients are summed into one gradient of that mean, and each of its
    rows moves by that whole gradient (fastText's convention, as for CBOW's context rows). An n-gram such as
    ``ing`` that many of a batch's words share gets their updates summed, which the crowding cap bounds.
    """

    def __init__(self, model: FastTextModel, negative: int) -> None:
        super().__init__(model.input.weight.data, model.output.weight.data, negative, "fasttext")
        self.model = model

    def word_vectors(self, words: list[str]) -> WordVectors:
        """Each word's mean of its subword rows; ``words`` are the model's own, row for row."""
        return self.model.word_vectors()

    def input_side(self, chunk: Chunk, examples: slice) -> InputSide:
        words, pair_word = torch.unique(chunk.inputs[examples], return_inverse=True)  # (W,), (n,)
        counts = self.model.subword_count[words]  # (W,)
        offsets = torch.cumsum(counts, 0) - counts  # (W,) where each word's rows start in `rows`
        owner = torch.repeat_interleave(torch.arange(len(words), device=words.device), counts)  # (R,)
        rows = self.model.subword_rows[torch.repeat_interleave(self.model.subword_start[words] - offsets, counts)
                                       + torch.arange(len(owner), device=words.device)]  # (R,)
        means = F.embedding_bag(rows, self.input, offsets, mode="mean")  # (W, d)

        def spread(gradients: torch.Tensor) -> torch.Tensor:  # (n, d) -> (R, d)
            per_word = add_rows(torch.zeros_like(means), pair_word, gradients)
            return per_word.index_select(0, owner)

        pairs = torch.bincount(pair_word, minlength=len(words))  # (W,)
        return InputSide(rows, means.index_select(0, pair_word), spread, uses=pairs.index_select(0, owner))


def train_fasttext(
    sentences: Sequence[Sequence[str]],
    options: EmbedOptions,
    *,
    min_n: int = MIN_N,
    max_n: int = MAX_N,
    buckets: int = BUCKETS,
) -> WordVectors:
    """FastText vectors for the words of ``sentences`` seen at least ``options.min_count`` times, fast.

    The model is :func:`fit_fasttext`'s, trained by Word2Vec's fast trainer (:class:`SubwordTables`):
    batches of :data:`FAST_BATCH_SIZE` (centre, context) pairs (``options.batch_size``), several workers on
    the CPU, fastText's learning rate falling linearly. For vectors of unseen words, use :func:`fit_fasttext`
    and its model's ``vector(word)``.
    """
    check_ngram_range(min_n, max_n)

    def tables(words: list[str], options: EmbedOptions, device: torch.device) -> SubwordTables:
        torch.manual_seed(options.seed)
        model = FastTextModel(words, options.dim, min_n=min_n, max_n=max_n, buckets=buckets)
        return SubwordTables(model.to(device), options.negative)

    return train_fast(sentences, options, "fasttext", DEFAULT_LR, FAST_BATCH_SIZE, tables).vectors
