"""The book's two scales, chosen in one place.

Every notebook runs at the ``small`` scale by default: all its data ships inside pip packages, so
the book executes offline, on a laptop CPU, in minutes. The ``full`` scale swaps in the datasets and
checkpoints that the papers used; they come from the Hugging Face hub, so asking for ``full``
without a network must fail at once with a message that says how to go back to ``small``, rather
than hang inside a download or fail later with a library's traceback.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

from fromzero.errors import InputError, ScaleUnavailableError

SCALES = ("small", "full")
SCALE_ENV = "FROMZERO_SCALE"
DEFAULT_SCALE = "small"
OFFLINE_ENVS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_TRUE = {"1", "true", "yes", "on"}


def get_scale() -> str:
    """The scale in force: ``$FROMZERO_SCALE`` if set, else ``"small"``."""
    value = os.environ.get(SCALE_ENV, "").strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise InputError(f"{SCALE_ENV}={os.environ[SCALE_ENV]!r} is not a scale: choose one of {', '.join(SCALES)}")
    return value


def set_scale(name: str) -> None:
    """Set the scale for this process (and the processes it starts) by setting ``$FROMZERO_SCALE``."""
    os.environ[SCALE_ENV] = resolve_scale(name)


def resolve_scale(scale: str | None) -> str:
    """``scale`` validated, or the scale in force when it is ``None``; loaders call this first."""
    if scale is None:
        return get_scale()
    if not isinstance(scale, str) or scale.strip().lower() not in SCALES:
        raise InputError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    return scale.strip().lower()


def require_network(what: str, timeout: float = 3.0, host: str | None = None) -> None:
    """Raise :class:`ScaleUnavailableError` unless ``host`` (default: the Hugging Face hub) answers.

    A TCP connection to port 443 is tried in a daemon thread, so a slow DNS lookup cannot stretch
    the wait past ``timeout`` seconds. ``HF_HUB_OFFLINE=1`` or ``HF_DATASETS_OFFLINE=1`` count as no
    network, as they do for the Hugging Face libraries. An ``https_proxy``, when set, is what gets tried.
    """
    host = host or hub_host()
    offline = [name for name in OFFLINE_ENVS if os.environ.get(name, "").strip().lower() in _TRUE]
    if offline:
        reason = f"{offline[0]}={os.environ[offline[0]]} is set"
    elif not _can_connect(*_connect_target(host), timeout):
        reason = f"{host} unreachable"
    else:
        return
    raise ScaleUnavailableError(
        f"cannot download {what} for the 'full' scale: no network ({reason}). "
        f"Use the offline 'small' scale: unset {SCALE_ENV} or set {SCALE_ENV}=small."
    )


def hub_host() -> str:
    """The host the Hugging Face libraries download from (``$HF_ENDPOINT`` names a mirror)."""
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def _connect_target(host: str) -> tuple[str, int]:
    """Where a download to ``host`` really connects: the HTTPS proxy if one is set, else ``host:443``."""
    proxy = os.environ.get("https_proxy") or os.environ.get("HTTPS_PROXY")
    if proxy:
        parsed = urlparse(proxy if "//" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    return host, 443


def _can_connect(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds, DNS included."""
    opened: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError:
            opened.append(False)

    thread = threading.Thread(target=attempt, name="fromzero-network-check", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened and opened[0])
