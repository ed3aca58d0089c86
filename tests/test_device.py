"""Device selection: 'auto' always works, explicit choices are validated with a clear error."""

from __future__ import annotations

import pytest
import torch

from fromzero import InputError
from fromzero.device import available_memory, describe_device, human_bytes, pick_device, require_memory


def test_auto_picks_an_available_device() -> None:
    device = pick_device("auto")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert device.type == expected
    assert describe_device(device).startswith(expected)


def test_cpu_is_always_available() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")


def test_unknown_device_names_the_choices() -> None:
    with pytest.raises(InputError, match=r"unknown device 'tpu'.*auto, cpu, cuda, mps"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_missing_cuda_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="no CUDA GPU"):
        pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_description_names_the_gpu() -> None:
    assert torch.cuda.get_device_name(0) in describe_device(pick_device("cuda"))


def test_cpu_description_counts_threads_in_words() -> None:
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe_device(torch.device("cpu")) == "cpu (1 thread)"
        torch.set_num_threads(2)
        assert describe_device(torch.device("cpu")) == "cpu (2 threads)"
    finally:
        torch.set_num_threads(previous)


def test_sizes_that_cannot_fit_are_refused_before_allocating() -> None:
    cpu = torch.device("cpu")
    free = available_memory(cpu)
    assert free > 10**8  # at least 100 MB on any machine that runs the book
    require_memory(10**6, "a small table", cpu)
    with pytest.raises(InputError, match=r"^a huge table would take at least 1\.0 PB, more than the .* free on cpu"):
        require_memory(10**15, "a huge table", cpu)
    assert [human_bytes(n) for n in (999, 1500, 2.5e9, 3e18)] == ["999 bytes", "1.5 kB", "2.5 GB", "3,000.0 PB"]
