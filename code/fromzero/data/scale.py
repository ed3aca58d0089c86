"""The book's two scales, chosen in one place.

Every notebook runs at the ``small`` scale by default: all its data ships inside pip packages, so
the book executes offline, on a laptop CPU, in minutes. The ``full`` scale swaps in the datasets and
checkpoints that the papers used; they come from the Hugging Face hub, so asking for ``full``
without a network must fail at once with a message that says how to go back to ``small``, rather
than hang inside a download or fail later with a library's traceback.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
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


SCALE_REMEDY = f"Use the offline 'small' scale: unset {SCALE_ENV} or set {SCALE_ENV}=small."
HUB_PROBE = "/api/models?limit=1"  # a tiny JSON answer that only the hub (or a mirror of it) gives


def require_network(what: str, timeout: float = 3.0, host: str | None = None, remedy: str = SCALE_REMEDY) -> None:
    """Raise :class:`ScaleUnavailableError` unless the Hugging Face hub (or ``host``) answers as the hub does.

    An HTTPS request for one model's listing must come back within ``timeout`` seconds as JSON: a
    network that only opens connections (a captive portal, an intercepting proxy) answers with a login
    page or an error and counts as no network, so ``full`` fails here in seconds rather than hanging or
    failing inside a library. The request runs in a daemon thread, so a slow DNS lookup cannot stretch
    the wait; ``https_proxy`` is honoured as the libraries honour it. ``HF_HUB_OFFLINE=1`` or
    ``HF_DATASETS_OFFLINE=1`` count as no network, as they do for the Hugging Face libraries.
    """
    host = host or hub_host()
    offline = [name for name in OFFLINE_ENVS if os.environ.get(name, "").strip().lower() in _TRUE]
    reason = f"{offline[0]}={os.environ[offline[0]]} is set" if offline else _hub_problem(host, timeout)
    if reason is not None:
        raise ScaleUnavailableError(f"cannot download {what} for the 'full' scale: no network ({reason}). {remedy}")


def hub_host() -> str:
    """The host the Hugging Face libraries download from (``$HF_ENDPOINT`` names a mirror)."""
    return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"


def _hub_problem(host: str, timeout: float) -> str | None:
    """Why ``host`` does not answer as the hub within ``timeout`` seconds, or ``None`` when it does."""
    answer: list[str | None] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(f"https://{host}{HUB_PROBE}", timeout=timeout) as response:
                kind = response.headers.get("Content-Type", "")
                body = response.read(65536)
            json.loads(body)
            answer.append(None if "json" in kind else f"{host} answered with {kind or 'no content type'}, not JSON")
        except (OSError, ValueError) as error:  # refused, timed out, an HTTP error, or a page that is not JSON
            answer.append(f"{host} did not answer as the hub: {getattr(error, 'reason', error)}")

    thread = threading.Thread(target=ask, name="fromzero-network-check", daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else f"{host} unreachable within {timeout:g} s"
