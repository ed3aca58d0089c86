"""fromzero.muon: the orthogonalised update, agreement with torch's Muon and AdamW, and training with it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fromzero.errors import InputError
from fromzero.muon import Muon, hidden_matrices, orthogonalise
from fromzero.optimizers import make_optimizer
from fromzero.train import TrainConfig, fit
from fromzero.transformer.gpt import GPTConfig, TinyGPT, causal_lm_loss


def matrix_with_singular_values(values: torch.Tensor, rows: int, columns: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``rows x columns`` matrix with the given singular values, and its orthogonal part ``U V^T``."""
    generator = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(rows, len(values), generator=generator))
    v, _ = torch.linalg.qr(torch.randn(columns, len(values), generator=generator))
    return u @ torch.diag(values) @ v.T, u @ v.T


@pytest.mark.parametrize("rows, columns", [(16, 48), (48, 16)])
def test_orthogonalise_keeps_the_singular_vectors_and_evens_out_the_singular_values(rows: int, columns: int) -> None:
    values = torch.logspace(-1, 1, 16)  # spread over a factor of 100
    matrix, orthogonal_part = matrix_with_singular_values(values, rows, columns)
    result = orthogonalise(matrix)
    singular_values = torch.linalg.svdvals(result)
    assert singular_values.min() > 0.6 and singular_values.max() < 1.25
    cosine = (result * orthogonal_part).sum() / (result.norm() * orthogonal_part.norm())
    assert cosine > 0.98


def test_orthogonalise_refuses_what_is_not_a_matrix() -> None:
    with pytest.raises(InputError, match="shape \\(4,\\)"):
        orthogonalise(torch.ones(4))


def apply_steps(optimizer: torch.optim.Optimizer, parameter: nn.Parameter, gradients: list[torch.Tensor]) -> None:
    for gradient in gradients:
        parameter.grad = gradient.clone()
        optimizer.step()


@pytest.mark.parametrize("shape", [(8, 24), (24, 8)])  # a tall matrix gets lr * sqrt(rows / columns)
def test_muon_steps_agree_with_torch_muon(shape: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(*shape, generator=generator)
    gradients = [torch.randn(*shape, generator=generator) for _ in range(3)]
    ours, theirs = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    apply_steps(Muon([{"params": [ours], "muon": True, "lr": 0.02, "weight_decay": 0.1}]), ours, gradients)
    apply_steps(torch.optim.Muon([theirs], lr=0.02, weight_decay=0.1), theirs, gradients)
    moved, expected = ours.detach() - start, theirs.detach() - start
    # torch runs the Newton-Schulz products in bf16, ours in float32 on the CPU: about 3 digits agree.
    assert (moved - expected).norm() < 0.02 * expected.norm()


def test_adamw_groups_agree_with_torch_adamw() -> None:
    generator = torch.Generator().manual_seed(2)
    start = torch.randn(5, 3, generator=generator)
    gradients = [torch.randn(5, 3, generator=generator) for _ in range(4)]
    ours, theirs = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    apply_steps(Muon([{"params": [ours], "muon": False, "lr": 0.01, "weight_decay": 0.1}]), ours, gradients)
    apply_steps(torch.optim.AdamW([theirs], lr=0.01, weight_decay=0.1), theirs, gradients)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_groups_must_say_what_they_are() -> None:
    matrix, vector = nn.Parameter(torch.ones(3, 3)), nn.Parameter(torch.ones(3))
    with pytest.raises(InputError, match="needs 'lr' and 'muon'"):
        Muon([{"params": [matrix], "lr": 0.02}])
    with pytest.raises(InputError, match="matrices only"):
        Muon([{"params": [matrix, vector], "muon": True, "lr": 0.02}])


def tiny_gpt() -> TinyGPT:
    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=50, context_length=16, d_model=32, n_layers=2, n_heads=4))


def test_make_optimizer_gives_muon_the_blocks_matrices_and_adamw_the_rest() -> None:
    model = tiny_gpt()
    optimizer = make_optimizer(model, TrainConfig(optimizer="muon", lr=1e-3, muon_lr=0.02, weight_decay=0.1))
    muon_ids = {id(p) for group in optimizer.param_groups if group["muon"] for p in group["params"]}
    blocks = {id(m.weight) for m in model.blocks.modules() if isinstance(m, nn.Linear)}
    assert muon_ids == blocks == {id(p) for p in hidden_matrices(model)}
    assert id(model.token_embedding.weight) not in muon_ids  # the tied output layer stays with AdamW
    rates = {(group["muon"], group["lr"], group["weight_decay"]) for group in optimizer.param_groups}
    assert rates == {(True, 0.02, 0.1), (False, 1e-3, 0.1), (False, 1e-3, 0.0)}
    assert sum(len(group["params"]) for group in optimizer.param_groups) == len(list(model.parameters()))


def test_a_tiny_gpt_trained_with_muon_overfits_one_batch_and_resumes_exactly(tmp_path) -> None:
    torch.set_num_threads(1)
    ids = torch.randint(0, 50, (4, 17), generator=torch.Generator().manual_seed(0))
    batch = (ids[:, :-1], ids[:, 1:])
    settings = {"epochs": 60, "lr": 1e-2, "optimizer": "muon", "muon_lr": 0.02, "schedule": "cosine",
                "progress": False, "device": "cpu"}
    config = TrainConfig(**settings, checkpoint_dir=str(tmp_path), checkpoint_every=25)
    straight = tiny_gpt()
    history = fit(straight, [batch], causal_lm_loss, config)
    assert history.train_loss[0] > 3.5 and history.train_loss[-1] < 0.05
    for later in ("step-00000050.pt", "step-00000060.pt"):
        (tmp_path / later).unlink()  # as if the run had been killed after step 25
    resumed = tiny_gpt()
    fit(resumed, [batch], causal_lm_loss, config)
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
