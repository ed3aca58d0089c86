"""Every chapter at the ``full`` scale without network fails at its data step, at once, with the documented message.

Each notebook is executed in a real kernel with ``FROMZERO_SCALE=full`` and ``HF_HUB_OFFLINE=1`` (so that
the test means the same with or without network), stopping at the first error. That error must be the
package's ``ScaleUnavailableError`` naming the way back to ``small``, raised by the first cell that calls
a scale-aware loader, within seconds. A few chapters use the same data at both scales; they are listed
with the reason, and the test checks that they indeed call no scale-aware loader.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from conftest import notebooks
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.slow

SCALE_AWARE = (
    "text_corpus",
    "classification_data",
    "ner_data",
    "word_vectors",
    "encoder_checkpoint",
    "causal_lm_checkpoint",
)
CALLS_LOADER = re.compile(r"\b(" + "|".join(SCALE_AWARE) + r")\(")
SAME_DATA_AT_BOTH_SCALES = {
    "01_one_hot_to_meaning": "counts and TF-IDF over the 2,225 BBC articles: the example is the point, not its size",
    "08_attention": "attention on random and hand-made tensors: no dataset",
    "10_tiny_gpt": "a tiny GPT on BBC News text; `python -m fromzero pretrain gpt --corpus` takes any larger text",
}
FAIL_FAST_S = 15.0


def data_step(notebook: nbformat.NotebookNode) -> int | None:
    """Index of the first code cell that calls a scale-aware loader, if any."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and CALLS_LOADER.search(cell.source):
            return index
    return None


@pytest.mark.parametrize("path", notebooks(), ids=lambda path: path.stem)
def test_full_scale_offline_fails_fast_at_the_data_step(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(path, as_version=4)
    step = data_step(notebook)
    if path.stem in SAME_DATA_AT_BOTH_SCALES:
        assert step is None, f"{path.stem} is listed as scale-independent but calls a loader in cell {step}"
        pytest.skip(SAME_DATA_AT_BOTH_SCALES[path.stem])
    assert step is not None, f"{path.stem} calls no scale-aware loader: list it in SAME_DATA_AT_BOTH_SCALES"

    notebook.cells = notebook.cells[: step + 1]
    monkeypatch.setenv("FROMZERO_SCALE", "full")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started: dict[int, float] = {}
    failed: dict[int, float] = {}
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=lambda cell, cell_index: started.__setitem__(cell_index, time.perf_counter()),
        on_cell_error=lambda cell, cell_index, execute_reply: failed.__setitem__(cell_index, time.perf_counter()),
    )
    with pytest.raises(CellExecutionError) as raised:
        client.execute()
    (failed_at, failed_time), = failed.items()
    seconds = failed_time - started[failed_at]
    assert raised.value.ename == "ScaleUnavailableError", f"{path.stem} cell {failed_at}: {raised.value}"
    assert "FROMZERO_SCALE=small" in raised.value.evalue and "full" in raised.value.evalue
    assert failed_at == step, f"{path.stem} failed in cell {failed_at}, its data step is cell {step}"
    assert seconds < FAIL_FAST_S, f"{path.stem}: the data step took {seconds:.1f} s to fail"
