"""GloVe (Pennington, Socher and Manning, 2014): word vectors fitted to the logarithms of co-occurrence counts.

Chapter 3 derives the loss and the weighting; this is the tested version that the chapter and
``python -m fromzero embed train --method glove`` run. Training minimises, over the non-zero cells
of the co-occurrence matrix only,

    J = sum_ij f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,   f(x) = min(1, x / x_max)^alpha,

with AdaGrad, as the paper does, through the book's one training loop. A word's final vector is
``w_i + w~_i``: the two tables see the same counts from the two sides, so their sum averages out
part of each one's noise.

The reference code (glove.c) updates after every single cell, with AdaGrad sums that start at 1
and a learning rate of 0.05. Python cannot afford a step per cell, so we update after batches of
8,192 cells, a few hundred steps per epoch instead of millions, and the reference's settings do not
carry over: a batch's gradient sums many cells, and every count that a step sees changes the scale
of the sums that AdaGrad divides by. The learning rate and the sums' starting value were therefore
chosen by measurement, as the pair that fitted the counts best (the lowest J after ten epochs on the
book's small corpus; ``bench/README.md`` lists the grid), not by any benchmark score. The sums start
above zero, as in glove.c, so that a parameter with a small gradient takes a small step rather than
a step of the full learning rate (what AdaGrad's first step is when its sums start at 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fromzero.counting import cooccurrence_matrix
from fromzero.data.vocab import Vocabulary
from fromzero.device import one_cpu_thread, pick_device, require_memory
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.errors import InputError
from fromzero.history import History
from fromzero.train import TrainConfig, fit

X_MAX = 100.0  # counts at or above this get the full weight 1 (the paper's value)
ALPHA = 0.75  # the exponent of the weighting function (the paper's value)
# AdaGrad's learning rate and the value its squared-gradient sums start from, for batches of
# DEFAULT_BATCH_SIZE cells: the pair with the lowest J after ten epochs (see the module docstring).
DEFAULT_LR = 0.5
ADAGRAD_START = 0.1
DEFAULT_BATCH_SIZE = 8192
# J keeps falling for tens of epochs (glove.c's default is 25 iterations). On the book's small corpus the fourth epoch
# lowers J by 30 %, the twentieth by 3 %, and later ones by less: 20 epochs, as measured in bench/README.md.
DEFAULT_EPOCHS = 20


def glove_weight(counts: torch.Tensor, x_max: float = X_MAX, alpha: float = ALPHA) -> torch.Tensor:
    """f(x) = (x / x_max)^alpha below ``x_max`` and 1 from there on.

    Rare pairs carry noisy counts, so they get a small weight; very frequent pairs ("of the") would
    dominate an unweighted sum, so the weight stops growing at ``x_max``. f(0) = 0, which is why
    the empty cells, whose log count is minus infinity, can be left out of the sum.
    """
    if x_max <= 0 or alpha <= 0:
        raise InputError(f"x_max and alpha must be positive, got x_max={x_max}, alpha={alpha}")
    return torch.clamp(counts / x_max, max=1.0) ** alpha


@dataclass
class Cells:
    """The non-zero cells of a co-occurrence matrix: ``counts[k]`` is X at (``rows[k]``, ``cols[k]``)."""

    rows: torch.Tensor
    cols: torch.Tensor
    counts: torch.Tensor

    def __len__(self) -> int:
        return len(self.counts)


def count_cells(sentences: Sequence[Sequence[str]], min_count: int, window: int) -> tuple[list[str], Cells]:
    """The vocabulary (words seen ``min_count`` times or more) and its distance-weighted co-occurrence cells.

    Rarer words keep their positions, so they still separate the words around them, but are not
    counted. A pair ``d`` positions apart adds ``1/d``, as in the paper.
    """
    vocabulary = Vocabulary.build(sentences, min_count=min_count)
    ids = [vocabulary.encode(sentence) for sentence in sentences]
    matrix = cooccurrence_matrix(
        ids, len(vocabulary), window=window, distance_weighting=True, ignore_id=vocabulary.unk_index
    ).tocoo()
    if matrix.nnz == 0:
        raise InputError(f"no two words of the vocabulary occur within {window} positions of each other")
    # Drop the unknown word's row and column (never counted, hence empty) by shifting the ids.
    keep = [i for i in range(len(vocabulary)) if i != vocabulary.unk_index]
    shift = np.full(len(vocabulary), -1, dtype=np.int64)
    shift[keep] = np.arange(len(keep))
    cells = Cells(
        torch.from_numpy(shift[matrix.row]),
        torch.from_numpy(shift[matrix.col]),
        torch.from_numpy(matrix.data.astype(np.float32)),
    )
    return [vocabulary.token(i) for i in keep], cells


class GloVe(nn.Module):
    """Two tables of word vectors and two of biases; ``forward`` predicts log X_ij for cells (i, j).

    Gradients are dense: PyTorch's AdaGrad on sparse gradients was slower here than updating the
    whole tables, a few million numbers. A row that a batch does not touch has a zero gradient, and
    AdaGrad leaves it, and its sum of squared gradients, unchanged.
    """

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        self.word_bias = nn.Embedding(vocab_size, 1)
        self.context_bias = nn.Embedding(vocab_size, 1)
        for table in (self.word, self.context, self.word_bias, self.context_bias):
            # The reference code's initialisation: uniform in [-0.5, 0.5] / dim, small and symmetric.
            nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)

    def forward(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        dot = (self.word(rows) * self.context(cols)).sum(dim=-1)
        return dot + self.word_bias(rows).squeeze(-1) + self.context_bias(cols).squeeze(-1)

    def vectors(self) -> np.ndarray:
        """The final word vectors, W + W~, as a float32 array."""
        return (self.word.weight + self.context.weight).detach().cpu().numpy()


def glove_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The batch's share of J: the sum over its cells of f(X_ij) (prediction - log X_ij)^2.

    A sum, as in the paper, so that the losses of one epoch's batches add up to J. (AdaGrad
    divides every step by the root of the summed squared gradients, so a mean would train the
    same, up to AdaGrad's tiny epsilon.)
    """
    rows, cols, log_counts, weights = batch
    error = model(rows, cols) - log_counts
    return (weights * error.square()).sum()


class CellBatches:
    """Batches of at most ``batch_size`` cells, in a new random order every epoch: ``(rows, cols, log X, f(X))``.

    A ``DataLoader`` would fetch the cells of a batch one by one; slicing tensors with a shuffled
    index is far faster. The order comes from PyTorch's global generator, which :func:`fit` seeds
    and restores on resume, so a run is reproducible and resumes exactly.
    """

    def __init__(self, cells: Cells, batch_size: int, x_max: float = X_MAX, alpha: float = ALPHA) -> None:
        self.tensors = (cells.rows, cells.cols, cells.counts.log(), glove_weight(cells.counts, x_max, alpha))
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.tensors[0]) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        # Batches of equal size (to within one cell), so that their losses, sums over cells, compare.
        for chosen in torch.tensor_split(torch.randperm(len(self.tensors[0])), len(self)):
            yield tuple(tensor[chosen] for tensor in self.tensors)


@dataclass
class GloVeRun:
    """What :func:`fit_glove` trained: the words, the model (row ``i`` is ``words[i]``) and the loss history."""

    words: list[str]
    model: GloVe
    history: History

    def word_vectors(self) -> WordVectors:
        return WordVectors(self.words, self.model.vectors())


def fit_glove(
    sentences: Sequence[Sequence[str]], options: EmbedOptions, *, x_max: float = X_MAX, alpha: float = ALPHA
) -> GloVeRun:
    """Count co-occurrences within ``options.window`` and fit GloVe to them with AdaGrad; keep the history."""
    words, cells = count_cells(sentences, options.min_count, options.window)
    batches = CellBatches(cells, options.batch_size or DEFAULT_BATCH_SIZE, x_max, alpha)
    device = pick_device(options.device)
    require_memory(4 * len(words) * options.dim * 4,
                   f"GloVe's two tables and their AdaGrad sums ({len(words):,} words x dim {options.dim:,})", device)
    torch.manual_seed(options.seed)
    # On the training device before the optimizer is built, so that AdaGrad's sums live there too.
    model = GloVe(len(words), options.dim).to(device)
    lr = options.lr or DEFAULT_LR
    optimizer = torch.optim.Adagrad(model.parameters(), lr=lr, initial_accumulator_value=ADAGRAD_START)
    config = TrainConfig(
        epochs=options.epochs or DEFAULT_EPOCHS,
        lr=lr,
        schedule="constant",
        max_grad_norm=None,
        mixed_precision="no",
        seed=options.seed,
        device=options.device,
        progress=options.progress,
        log_every=50,
    )
    with one_cpu_thread(model.word.weight.device):
        history = fit(model, batches, glove_loss, config, optimizer=optimizer)
    return GloVeRun(words, model, history)


def train_glove(
    sentences: Sequence[Sequence[str]], options: EmbedOptions, *, x_max: float = X_MAX, alpha: float = ALPHA
) -> WordVectors:
    """GloVe word vectors (W + W~) for the words of ``sentences`` seen at least ``options.min_count`` times."""
    return fit_glove(sentences, options, x_max=x_max, alpha=alpha).word_vectors()
