"""Pick the device the book's code runs on, say which, and compute in mixed precision where it pays.

Every notebook calls :func:`pick_device` once, so the same cell runs on a laptop CPU, an Apple
GPU (MPS) or an NVIDIA GPU (CUDA) without edits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch

from fromzero.errors import InputError

MIXED_PRECISION = ("auto", "bf16", "fp16", "no")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(preference: str | torch.device = "auto") -> torch.device:
    """Return the device to use.

    ``"auto"`` prefers CUDA, then Apple's MPS, then the CPU. An explicit choice that this machine
    cannot honour raises :class:`~fromzero.errors.InputError` rather than failing later inside
    PyTorch with a less helpful message.
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    kind = preference.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise InputError(f"unknown device {preference!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is visible; use --device cpu or auto")
    if kind == "mps" and not _mps_available():
        raise InputError("device 'mps' was requested but this machine has no Apple GPU; use --device cpu or auto")
    return torch.device(preference)


def has_native_bf16(device: torch.device | int | None = None) -> bool:
    """Whether a CUDA GPU computes in bfloat16 natively: compute capability 8.0 (Ampere) or later.

    ``torch.cuda.is_bf16_supported()`` also answers yes where bf16 is only emulated, as on Colab's
    T4 (capability 7.5), where it runs far slower than fp16 with loss scaling; so the capability
    decides. On AMD GPUs (ROCm) capabilities mean something else, and PyTorch's answer is used.
    """
    if torch.version.hip:
        return torch.cuda.is_bf16_supported()
    major, _minor = torch.cuda.get_device_capability(device)
    return major >= 8


def describe_device(device: torch.device) -> str:
    """A one-line, human description such as ``'cuda (NVIDIA H100, native bf16)'``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        name = torch.cuda.get_device_name(index)
        bf16 = "native bf16" if has_native_bf16(index) else "fp16 only"
        return f"cuda ({name}, {bf16})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run PyTorch's CPU operations in one thread for the duration (restored afterwards).

    A training step of word vectors is many small tensor operations; split over several threads,
    they spend more time waiting for each other than they save, badly so on a shared machine.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def available_memory(device: torch.device) -> int:
    """Bytes that new tensors on ``device`` can still take: a CUDA GPU's free memory, else the system's.

    For the CPU (and Apple GPUs, which share it) this is Linux's ``MemAvailable``, what the kernel can
    hand out without swapping; elsewhere the physical memory.
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def human_bytes(n_bytes: float) -> str:
    """``1.5 GB``-style sizes (powers of 1000), for messages."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n_bytes < 1000:
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:,.1f} PB"


def require_memory(needed: int, what: str, device: torch.device) -> None:
    """Raise :class:`InputError` before allocating when ``needed`` bytes cannot fit on ``device``.

    ``needed`` is a floor (the tensors that must exist at once), so the check never refuses a run
    that could fit; it turns an absurd size into one line instead of a crash minutes later, or a
    machine that swaps itself to a halt.
    """
    free = available_memory(device)
    if needed > free:
        raise InputError(f"{what} would take at least {human_bytes(needed)}, more than the {human_bytes(free)} "
                         f"of memory free on {device.type}: choose smaller sizes")


def autocast_dtype(mixed_precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype ``torch.autocast`` computes in, or None for full precision.

    bf16 has float32's range, so it trains without loss scaling; fp16 does not, so :func:`fit`
    pairs it with a GradScaler. CPUs and Apple GPUs gain little from autocast, so "auto" turns it
    off there, and an explicit "bf16" or "fp16" needs a CUDA GPU. "auto" picks bf16 only where the GPU
    computes in it natively (:func:`has_native_bf16`), fp16 with loss scaling elsewhere.
    """
    if mixed_precision not in MIXED_PRECISION:
        raise InputError(f"unknown mixed_precision {mixed_precision!r}: choose one of {', '.join(MIXED_PRECISION)}")
    if mixed_precision == "no" or (mixed_precision == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise InputError(f"mixed_precision={mixed_precision!r} needs a CUDA GPU, but training runs on {device}")
    if mixed_precision == "fp16":
        return torch.float16
    if has_native_bf16(device):
        return torch.bfloat16
    if mixed_precision == "bf16":
        raise InputError("this GPU has no native bf16 (compute capability below 8.0): use mixed_precision='fp16' or "
                         "'auto'")
    return torch.float16


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision in ``dtype`` on ``device`` for the block it wraps; nothing at all when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
