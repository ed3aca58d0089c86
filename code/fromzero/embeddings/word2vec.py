"""Word2Vec (Mikolov et al., 2013): skip-gram with negative sampling (SGNS) and CBOW, fast on a CPU.

Chapter 2 derives both models and builds slow, readable versions with the book's training loop;
this module is the tested, fast version behind ``python -m fromzero embed train --method sgns|cbow``.
It trains in PyTorch, on the CPU or unchanged on a GPU; ``bench/bench_embeddings.py`` measures its speed
against gensim's C code on the CPU, and ``bench/README.md`` records the ratio.

Why it does not use :func:`fromzero.train.fit`
    A step of ``fit`` runs an optimizer over every parameter: for Word2Vec that is two
    ``|V| x d`` tables (2 million numbers for 10,000 words of 100 dimensions), of which a batch of
    a few thousand pairs touches a few thousand rows. That full-table update, not the maths, is
    what makes a straightforward PyTorch Word2Vec about ten times slower than gensim. Here each
    step computes the few rows' gradients by hand (:func:`negative_sampling_gradients`, checked
    against autograd in the tests) and adds ``-lr`` times them into the tables: plain SGD, the
    original algorithm, with its learning rate decaying linearly to zero over training.

What else makes it fast
    * The examples are drawn in bulk, a chunk of the corpus at a time, by a thread of their own
      (:mod:`fromzero.embeddings.sampling`).
    * A step trains thousands of examples with a handful of large tensor operations; a group of
      :data:`NEGATIVE_GROUP` examples shares its draw of negative words, which turns the negative
      scores into one batched matrix product; rows are added with ``scatter_add_``, about three
      times faster on a CPU than ``index_add_``.
    * A batch's updates are summed, all computed from the tables as they were before it. For most
      rows that is what sequential SGD would have done; for a word that the batch uses hundreds of
      times (*the* is 8 % of the tokens of the book's corpus) it is hundreds of steps taken at once,
      which overshoot and make training diverge without subsampling. Such crowded rows take a capped
      share of their summed update (:func:`crowding_scale`), so that large batches stay safe at any
      subsampling. With subsampling on, the cap still acts on the output rows of a few dozen frequent
      words: negatives are drawn from the raw counts, so *the* stays the most frequent negative.
    * Several workers train at once, one per core, each on its own batches, adding its updates to
      the shared tables without waiting for the others ("Hogwild", Recht et al. 2011), as
      word2vec.c and gensim do. Their rare collisions (two workers updating the same row at the
      same moment) cost nothing measurable. Each worker runs PyTorch single-threaded: one
      operation is too small to be worth splitting, and a step split into halves on two threads
      spends its gain waiting for the slower half twice per step.

Reproducibility
    With ``workers=1`` a run on the CPU is a deterministic function of the corpus and
    :class:`EmbedOptions` (``seed`` included): the random draws come from generators seeded with
    it, in an order that does not depend on thread timing. With more workers the order in which
    their updates land depends on timing, so, as with gensim's ``workers``, runs differ (equally
    good, not equal). On a GPU (always one worker), ``scatter_add_`` sums in a nondeterministic
    order, so runs differ in the last bits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fromzero.device import one_cpu_thread, pick_device, require_memory
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.embeddings.sampling import (
    NEGATIVE_GROUP,
    NO_PAIRS,
    Chunk,
    EncodedCorpus,
    Schedule,
    encode_corpus,
    in_background,
    prepare_chunks,
)
from fromzero.errors import InputError

DEFAULT_EPOCHS = 5  # word2vec.c's default
DEFAULT_LR = {"sgns": 0.05, "cbow": 0.1}  # chosen by held-out loss: bench/bench_learning_rate.py
DEFAULT_BATCH_SIZE = {"sgns": 4096, "cbow": 1024}  # pairs (sgns) or windows (cbow) per update: bench/README.md
CROWDING_RATE = 1.0  # the most learning rate a row takes in one batch (lr times its uses); see crowding_scale


@dataclass
class Word2VecRun:
    """What :func:`train_word2vec` produced and measured.

    ``losses[i]`` is the mean loss per example of a step taken after ``words_seen[i]`` corpus
    tokens had been processed (epochs included); ``examples`` counts the (centre, context) pairs
    (SGNS) or windows (CBOW) trained on; ``seconds`` counts encoding and training.
    ``output_vectors`` is the second table and ``counts`` the training counts (row ``i`` for
    ``vectors.words[i]``): with them :func:`heldout_loss` scores text the run never saw.
    """

    vectors: WordVectors
    output_vectors: np.ndarray
    counts: np.ndarray
    losses: list[float]
    words_seen: list[int]
    examples: int
    seconds: float
    corpus_tokens: int
    epochs: int

    @property
    def words_per_second(self) -> float:
        """Corpus tokens times epochs, per second: the unit gensim reports."""
        return self.corpus_tokens * self.epochs / self.seconds if self.seconds else 0.0


def negative_sampling_gradients(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    noise: torch.Tensor,
    clash: torch.Tensor,
    scale: float = 1.0,
    with_loss: bool = False,
    *,
    input_scale: torch.Tensor | None = None,
    target_scale: torch.Tensor | None = None,
    noise_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The gradients of the negative-sampling loss for groups of examples sharing their negatives.

    Shapes: ``inputs`` and ``targets`` are ``(G, g, d)``: ``g`` examples in each of ``G`` groups,
    an input vector (the centre word's for SGNS, the mean of the context for CBOW) and the output
    vector of the word to predict. ``noise`` is ``(G, K, d)``, the output vectors of the group's
    ``K`` negative words, and ``clash`` is a ``(G, g, K)`` boolean tensor, True where a negative
    happens to be the example's own target (it is then skipped, as in word2vec.c; write
    ``use_ek = 1 - clash_ek``). The loss summed over the examples is

        L = sum_e [ -log sigmoid(v_e . u_e) - sum_k use_ek log sigmoid(-v_e . n_k) ],

    and with ``s = v . u`` its gradients are ``dL/ds = sigmoid(s) - 1`` for the target and
    ``sigmoid(s)`` for a negative, from which

        dL/dv_e = (sigmoid(s_e) - 1) u_e + sum_k use_ek sigmoid(s_ek) n_k
        dL/du_e = (sigmoid(s_e) - 1) v_e
        dL/dn_k = sum_e use_ek sigmoid(s_ek) v_e.

    Returns the three gradients (shaped like their vectors) multiplied by ``scale`` (``-lr`` gives
    SGD's updates at the cost of scaling the small ``dL/ds`` terms rather than the gradients) and,
    if ``with_loss``, ``L`` divided by the number of examples. ``input_scale`` and ``target_scale``
    ``(G, g)`` and ``noise_scale`` ``(G, K)``, when given, further multiply each example's input
    and target gradients and each negative's gradient, again through the ``dL/ds`` terms (the fast
    trainer's per-row factors, see :func:`crowding_scale`).
    """
    positive = (inputs * targets).sum(-1)
    negative = torch.bmm(inputs, noise.transpose(1, 2))
    positive_error = torch.sigmoid(positive).sub_(1).mul_(scale)
    negative_error = torch.sigmoid(negative).masked_fill_(clash, 0).mul_(scale)
    input_positive, input_negative = positive_error, negative_error
    if input_scale is not None:
        input_positive, input_negative = positive_error * input_scale, negative_error * input_scale.unsqueeze(-1)
    if target_scale is not None:
        positive_error = positive_error * target_scale
    if noise_scale is not None:
        negative_error = negative_error * noise_scale.unsqueeze(1)
    grad_inputs = torch.baddbmm(input_positive.unsqueeze(-1) * targets, input_negative, noise)
    grad_targets = positive_error.unsqueeze(-1) * inputs
    grad_noise = torch.bmm(negative_error.transpose(1, 2), inputs)
    loss = None
    if with_loss:
        negative_loss = torch.nn.functional.logsigmoid(-negative).masked_fill_(clash, 0).sum()
        loss = -(torch.nn.functional.logsigmoid(positive).sum() + negative_loss) / positive.numel()
    return grad_inputs, grad_targets, grad_noise, loss


@dataclass
class Updates:
    """What one part of a batch adds to the rows of the two tables: minus lr times their gradients."""

    input_ids: torch.Tensor  # sgns: centre words; cbow: context words; fasttext: subword rows
    inputs: torch.Tensor
    target_ids: torch.Tensor
    targets: torch.Tensor
    noise_ids: torch.Tensor
    noise: torch.Tensor
    loss: torch.Tensor | None


@dataclass
class InputSide:
    """The input vectors of a batch's examples and the input rows behind them.

    ``vectors`` is ``(n, d)``, one per example. Without ``spread`` (skip-gram) example ``i`` reads row
    ``row_ids[i]`` alone; with it, an example's vector is the mean of several rows (CBOW: its context words;
    FastText: its centre word's subwords), and ``spread`` turns the examples' ``(n, d)`` gradients into one
    update per entry of ``row_ids``. ``uses`` counts the examples behind each entry (or all of them), for
    :func:`crowding_scale`.
    """

    row_ids: torch.Tensor
    vectors: torch.Tensor
    spread: Callable[[torch.Tensor], torch.Tensor] | None = None
    uses: torch.Tensor | int = 1


class SgdTables:
    """An input and an output table and the SGD step of negative sampling on them (see the module docstring).

    ``sampling`` says which examples the step trains on: ``"sgns"`` (centre, context) pairs, ``"cbow"``
    (window, centre) examples, ``"fasttext"`` pairs in text order (:func:`fromzero.embeddings.sampling.prepare_chunks`).
    """

    def __init__(self, input: torch.Tensor, output: torch.Tensor, negative: int, sampling: str) -> None:
        self.input, self.output, self.negative, self.sampling = input, output, negative, sampling

    @classmethod
    def word2vec(cls, architecture: str, vocab_size: int, options: EmbedOptions, device: torch.device) -> SgdTables:
        """word2vec.c's initialisation: inputs uniform in [-0.5/d, 0.5/d], outputs zero."""
        generator = torch.Generator().manual_seed(options.seed)
        input = ((torch.rand(vocab_size, options.dim, generator=generator) - 0.5) / options.dim).to(device)
        return cls(input, torch.zeros(vocab_size, options.dim, device=device), options.negative, architecture)

    def word_vectors(self, words: list[str]) -> WordVectors:
        """The trained vectors of ``words`` (the vocabulary, row ``i`` for ``words[i]``)."""
        return WordVectors(words, self.input.cpu().numpy())

    def step(self, chunk: Chunk, examples: slice, lr: float, with_loss: bool) -> torch.Tensor | None:
        """One SGD update on the examples ``examples`` of ``chunk`` (a multiple of NEGATIVE_GROUP of them).

        The updates are computed from the tables as they are, then added; with several workers,
        another worker's step may add its own in between (Hogwild, see :func:`train_word2vec`).
        """
        part = self.updates(chunk, examples, lr, with_loss)
        add_rows(self.input, part.input_ids, part.inputs)
        add_rows(self.output, part.target_ids, part.targets)
        add_rows(self.output, part.noise_ids, part.noise)
        return part.loss

    def input_side(self, chunk: Chunk, examples: slice) -> InputSide:
        """The examples' input vectors: a centre word's row (sgns), or the mean of a window's rows (cbow)."""
        if self.sampling == "sgns":
            centres = chunk.inputs[examples]
            return InputSide(centres, self.input.index_select(0, centres))
        first, last = chunk.context_starts[examples.start], chunk.context_starts[examples.stop]
        context, rows = chunk.inputs[first:last], chunk.rows[first:last] - examples.start
        starts = torch.as_tensor(chunk.context_starts[examples.start : examples.stop] - first, device=context.device)
        means = F.embedding_bag(context, self.input, starts, mode="mean")  # (n, d), one bag of rows per example
        return InputSide(context, means, spread=lambda gradients: gradients.index_select(0, rows))

    def updates(self, chunk: Chunk, examples: slice, lr: float, with_loss: bool) -> Updates:
        """SGD's updates for the rows that ``examples`` use; reads the tables only."""
        dim = self.input.shape[1]
        targets = chunk.targets[examples]
        groups = len(targets) // NEGATIVE_GROUP
        first_group = examples.start // NEGATIVE_GROUP
        inputs = self.input_side(chunk, examples)
        noise_ids = chunk.noise[first_group : first_group + groups].reshape(-1)
        cap = max(1.0, CROWDING_RATE / lr)
        input_scale = crowding_scale([(inputs.row_ids, inputs.uses)], len(self.input), cap)
        # A negative's update sums the gradients of the NEGATIVE_GROUP examples that share it.
        output_scale = crowding_scale([(targets, 1), (noise_ids, NEGATIVE_GROUP)], len(self.output), cap)
        one_row_each = inputs.spread is None
        row_scale = input_scale.index_select(0, inputs.row_ids)
        example_scale = row_scale.view(groups, NEGATIVE_GROUP) if one_row_each else None
        input_updates, target_updates, noise_updates, loss = negative_sampling_gradients(
            inputs.vectors.view(groups, NEGATIVE_GROUP, dim),
            self.output.index_select(0, targets).view(groups, NEGATIVE_GROUP, dim),
            self.output.index_select(0, noise_ids).view(groups, self.negative, dim),
            chunk.clash[first_group : first_group + groups],
            scale=-lr,
            with_loss=with_loss,
            input_scale=example_scale,
            target_scale=output_scale.index_select(0, targets).view(groups, NEGATIVE_GROUP),
            noise_scale=output_scale.index_select(0, noise_ids).view(groups, self.negative),
        )
        input_updates = input_updates.view(-1, dim)
        if not one_row_each:
            # word2vec.c, gensim and fastText move every row of a mean by the gradient with respect to the
            # mean, not by its 1/count share of it: the convention their learning rates are tuned for.
            input_updates = inputs.spread(input_updates).mul_(row_scale.unsqueeze(1))
        return Updates(
            inputs.row_ids,
            input_updates,
            targets,
            target_updates.view(-1, dim),
            noise_ids,
            noise_updates.view(-1, dim),
            loss,
        )


def crowding_scale(
    uses: Sequence[tuple[torch.Tensor, int | torch.Tensor]], vocab_size: int, cap: float
) -> torch.Tensor:
    """A factor per row of a table: 1 for a row that a batch uses at most ``cap`` times, ``cap / uses`` above.

    ``uses`` lists ids with the number of examples behind each occurrence (one number for all, or one per
    id). Sequential SGD, as in
    word2vec.c, moves a row once per example, each time from where the last update left it, so
    a frequent word's row stops moving once its scores are right. A batch adds all its updates
    computed at the same point: a row used by hundreds of its examples (*the* without subsampling)
    takes hundreds of steps in one and overshoots, and training diverges. Scaling such a row's
    summed update down to ``cap`` times its mean update bounds that step; rows used ``cap`` times
    or fewer, almost all of them, get plain SGD. The trainer sets ``cap`` to
    :data:`CROWDING_RATE` divided by the learning rate: what is bounded is the learning rate a row
    takes in one batch, lr times its uses, so the cap loosens as the learning rate decays.
    """
    counts = torch.zeros(vocab_size, device=uses[0][0].device)
    for ids, weight in uses:
        if isinstance(weight, torch.Tensor):
            counts.index_add_(0, ids, weight.to(counts.dtype))
        else:
            counts.add_(torch.bincount(ids, minlength=vocab_size), alpha=weight)
    return cap / counts.clamp_(min=cap)


def add_rows(table: torch.Tensor, ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``table[ids[i]] += rows[i]`` for every i, repeated ids summed (what ``index_add_`` does).

    ``scatter_add_`` with the ids broadcast along each row gives the same sums and runs about three
    times faster than ``index_add_`` on a CPU, which loops over the rows one by one.
    """
    return table.scatter_add_(0, ids.unsqueeze(1).expand(-1, table.shape[1]), rows)


def default_workers() -> int:
    """Training threads on the CPU: one per core PyTorch may use, at most 2.

    Two was measured (``bench/README.md``). More workers are untested: each adds its batch to rows
    that the others' batches are also moving, which the per-batch cap of :func:`crowding_scale`
    does not see; pass ``workers`` explicitly to try more.
    """
    return max(1, min(2, torch.get_num_threads()))


def train_word2vec(
    sentences: Sequence[Sequence[str]], options: EmbedOptions, architecture: str = "sgns"
) -> Word2VecRun:
    """Train skip-gram (``"sgns"``) or CBOW (``"cbow"``) with negative sampling; see the module docstring.

    ``options.batch_size`` counts (centre, context) pairs for SGNS and centre words for CBOW;
    ``options.lr`` is the starting learning rate (:data:`DEFAULT_LR` by default; word2vec.c's are 0.025 and 0.05).
    ``options.negative`` must be at least 1: without negatives the model has nothing to push
    apart and collapses. ``options.workers`` threads train at once on the CPU (one on a GPU).
    """
    if architecture not in DEFAULT_LR:
        raise InputError(f"unknown Word2Vec architecture {architecture!r}: choose sgns or cbow")

    def tables(words: list[str], options: EmbedOptions, device: torch.device) -> SgdTables:
        return SgdTables.word2vec(architecture, len(words), options, device)

    return train_fast(sentences, options, architecture, DEFAULT_LR[architecture], DEFAULT_BATCH_SIZE[architecture],
                      tables)


def train_fast(
    sentences: Sequence[Sequence[str]],
    options: EmbedOptions,
    method: str,
    lr: float,
    batch_size: int,
    tables: Callable[[list[str], EmbedOptions, torch.device], SgdTables],
) -> Word2VecRun:
    """Encode ``sentences``, build the method's tables with ``tables(vocabulary, options, device)`` and train them.

    ``lr`` and ``batch_size`` are the method's defaults, used where ``options`` leaves them unset.
    """
    started = time.perf_counter()
    if options.negative < 1:
        raise InputError(f"{method} needs at least one negative sample per example, got negative=0")
    options = replace(options, epochs=options.epochs or DEFAULT_EPOCHS, lr=options.lr or lr,
                      batch_size=_batch_size(options.batch_size or batch_size))
    corpus = encode_corpus(sentences, options.min_count)
    device = pick_device(options.device)
    require_memory(2 * len(corpus.words) * options.dim * 4,
                   f"{method}'s two tables ({len(corpus.words):,} words x dim {options.dim:,})", device)
    return train_tables(tables(corpus.words, options, device), corpus, options, method, started)


def train_tables(
    tables: SgdTables, corpus: EncodedCorpus, options: EmbedOptions, name: str, started: float
) -> Word2VecRun:
    """Train ``tables`` on ``corpus`` for ``options.epochs`` passes: the loop behind every fast method.

    ``options`` has every default filled in (:func:`train_fast`); ``name`` labels the progress bar; ``started``
    is when the run began (``time.perf_counter()``), for the run's seconds.
    """
    if not np.any(corpus.sentence[1:] == corpus.sentence[:-1]):
        raise InputError(NO_PAIRS)
    device = tables.input.device
    workers = 1 if device.type != "cpu" else options.workers or default_workers()
    total = options.epochs * len(corpus.ids)
    chunks = prepare_chunks(corpus, tables.sampling, options, np.random.default_rng(options.seed))
    measured: list[tuple[float, float]] = []  # (words done, loss), in the order the workers measured them
    bar = tqdm(total=total, unit="word", unit_scale=True, desc=name, disable=not options.progress, leave=False)
    with bar, one_cpu_thread(device):
        schedule = Schedule(in_background(chunks, device), options.batch_size, options.lr, len(corpus.ids), bar)

        def work() -> None:
            while (item := schedule.next()) is not None:
                loss = tables.step(item.chunk, item.examples, item.lr, item.with_loss)
                if loss is not None:
                    measured.append((item.words_done, loss.item()))
                    bar.set_postfix({"loss": f"{measured[-1][1]:.3f}", "lr": f"{item.lr:.2e}"}, refresh=False)

        _run_workers(work, workers, schedule)
    measured.sort()
    words_per_id = corpus.tokens / len(corpus.ids)
    vectors = tables.word_vectors(corpus.words)
    return Word2VecRun(
        vectors,
        tables.output.cpu().numpy(),
        corpus.counts,
        [loss for _, loss in measured],
        [round(done * words_per_id) for done, _ in measured],
        schedule.examples,
        time.perf_counter() - started,
        corpus.tokens,
        options.epochs,
    )


def _run_workers(work: Callable[[], None], workers: int, schedule: Schedule) -> None:
    """Run ``work`` on this thread and ``workers - 1`` more; stop them all if one fails or is interrupted."""
    with ThreadPoolExecutor(max(1, workers - 1), thread_name_prefix="word2vec-worker") as pool:
        others = [pool.submit(work) for _ in range(workers - 1)]
        try:
            work()
        finally:
            schedule.stop()
            wait(others)
            schedule.close()
        for other in others:
            other.result()  # raises a worker's error here


def _batch_size(requested: int) -> int:
    """The batch rounded up to whole groups of NEGATIVE_GROUP examples."""
    return -(-requested // NEGATIVE_GROUP) * NEGATIVE_GROUP


def train_sgns(sentences: Sequence[Sequence[str]], options: EmbedOptions) -> WordVectors:
    """Skip-gram with negative sampling: each word predicts the words around it."""
    return train_word2vec(sentences, options, "sgns").vectors


def train_cbow(sentences: Sequence[Sequence[str]], options: EmbedOptions) -> WordVectors:
    """Continuous bag of words with negative sampling: the mean of a window predicts the word in its middle."""
    return train_word2vec(sentences, options, "cbow").vectors
