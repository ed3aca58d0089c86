"""The notebooks' helpers (fromzero.notebook): glue records values for the prose, claim guards its conclusions."""

from __future__ import annotations

import numpy as np
import pytest

from fromzero.notebook import GLUE_PREFIX, ClaimError, ClaimWarning, claim, glue


def test_glue_returns_the_value_and_records_plain_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr("fromzero.notebook.display", lambda data, **kwargs: shown.append((data, kwargs)))
    assert glue("ratio", np.float64(0.25)) == 0.25
    data, kwargs = shown[0]
    assert data == {GLUE_PREFIX + "text/plain": "0.25"}  # not "np.float64(0.25)"
    assert kwargs["metadata"]["scrapbook"]["name"] == "ratio"


def test_claim_is_silent_when_the_result_supports_the_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    claim(np.bool_(True), "the model beats the baseline")
    assert capsys.readouterr().out == ""


def test_claim_quotes_the_sentence_and_the_evidence_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROMZERO_BOOK_BUILD", "1")
    with pytest.raises(ClaimError, match=r"the text says 'X beats Y'.*\(X 0.41, Y 0.52\)"):
        claim(0.41 > 0.52, "X beats Y", evidence="X 0.41, Y 0.52")
    with pytest.raises(AssertionError):  # a ClaimError is an AssertionError: a failed check in the build
        claim(False, "no value is NaN")


def test_in_a_readers_own_run_a_failed_claim_warns_and_the_notebook_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FROMZERO_BOOK_BUILD", raising=False)
    with pytest.warns(ClaimWarning, match=r"the text says 'X beats Y'.*describes the book's run"):
        claim(0.41 > 0.52, "X beats Y", evidence="X 0.41, Y 0.52")
