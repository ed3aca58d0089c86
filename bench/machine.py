"""The machine a benchmark ran on, in one line for ``bench/README.md``: CPU model, cores, load, date."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def cpu_model() -> str:
    """``lscpu``'s model name (e.g. "AMD EPYC"), or what Python knows where there is no ``lscpu``."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")]
    return names[0] if names else platform.processor() or platform.machine()


def describe_machine() -> str:
    """CPU model, cores, the 1-minute load average now, Python's version and the UTC time."""
    return (f"{cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
