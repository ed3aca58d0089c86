"""The exercise checkers: the package's answer and the book's own solutions pass, known mistakes fail with their
hint, and a broken function gets a one-line verdict instead of a traceback."""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import cells_with_solution_flag, notebooks

from fromzero import check
from fromzero.embeddings.fasttext import char_ngrams
from fromzero.errors import InputError

LABELS = sorted(check.CHECKERS)


def reference(label: str) -> Callable[..., Any]:
    return getattr(check, "_" + check.CHECKERS[label].__name__)


@pytest.mark.parametrize("label", LABELS)
def test_the_package_answer_passes_every_hidden_case(label: str) -> None:
    verdict = check.CHECKERS[label](reference(label))
    assert verdict and verdict.cases >= 40
    assert repr(verdict).startswith("✓") and label in repr(verdict)


def _unscaled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    future = torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool).triu(1)
    return torch.softmax((q @ k.transpose(-2, -1)).masked_fill(future, float("-inf")), dim=-1) @ v


def _overlap_of_lists(a: str, b: str) -> float:
    first, second = char_ngrams(a), char_ngrams(b)
    return len([g for g in first if g in second]) / len(set(first) | set(second))


# A deliberately wrong function for each checker, with the words its hint must contain.
WRONG: dict[str, tuple[Callable[..., Any], str]] = {
    "ch03-xmax": (lambda c, x: ((c > x).mean(), (np.minimum(c / x, 1) ** 0.75)[c > x].sum()
                                / (np.minimum(c / x, 1) ** 0.75).sum()), "equal to x_max"),
    "ch04-shared": (lambda words: (np.mean([len(char_ngrams(w)) for w in words]), 0.5), "distinct"),
    "ch04-spelling": (lambda a, b: len(set(char_ngrams(a)) & set(char_ngrams(b))) / len(set(char_ngrams(a))),
                      "union"),
    "ch05-lipstick": (lambda v, g: v - np.outer(v @ g, g) / (g @ g), "unit length"),
    "ch07-threshold": (lambda s, c, d: (s - d * (np.arange(s.shape[1]) == c)).argmax(axis=1), "do not subtract"),
    "ch08-first-position": (_unscaled_attention, "√d_k"),
    "ch10-trigram": (lambda t, h, v: reference("ch10-trigram")(t, h, v) * math.log(2), "base 2"),
    "ch11-gqa-cache": (lambda layers, heads, dim, size: layers * heads * dim * size, "a key *and* a value"),
    "ch12-lora-count": (lambda shapes, r: sum(rows * columns for rows, columns in shapes), "two thin matrices"),
    "ch13-strict": (lambda seqs: sum(t.startswith("I-") for tags in seqs for t in tags), "count entities, not tags"),
    "ch13-gazetteer-plus": (lambda m, g: [b if a == "O" else a for a, b in zip(m, g, strict=True)], "whole entity"),
    "faq-macro": (lambda c: (float(np.trace(c) / c.sum()), reference("faq-macro")(c)[1]), "same weight"),
}


def test_every_checker_has_a_wrong_function_in_this_file() -> None:
    assert sorted(WRONG) == LABELS


@pytest.mark.parametrize("label", LABELS)
def test_a_wrong_function_fails_with_a_hint(label: str) -> None:
    wrong, words = WRONG[label]
    verdict = check.CHECKERS[label](wrong)
    assert not verdict
    assert repr(verdict).startswith("✗") and "Hint:" in repr(verdict) and words in repr(verdict)
    with pytest.raises(AssertionError, match="not yet"):
        verdict.require()


def test_an_answer_off_in_another_way_gets_the_general_hint() -> None:
    verdict = check.ngram_overlap(_overlap_of_lists)
    assert not verdict  # a repeated n-gram counts twice in the intersection
    assert "Hint: compare *sets* of n-grams" in repr(verdict)


def test_a_function_that_raises_gets_a_verdict_naming_the_error() -> None:
    verdict = check.f1_averages(lambda confusion: confusion.missing)
    assert not verdict
    assert "Hidden case 1 raised AttributeError" in repr(verdict)


def test_a_function_that_changes_its_input_does_not_change_the_checker_cases() -> None:
    def neutralise_in_place(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
        vectors -= np.outer(vectors @ direction, direction) / (direction @ direction)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    assert check.neutralise(neutralise_in_place)


def test_passing_something_other_than_a_function_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="pass the function itself"):
        check.ngram_overlap(0.5)  # type: ignore[arg-type]


def _solution_cells(path: Path) -> list[str]:
    """The source of the code cells between ``solution-start`` and ``solution-end``."""
    return ["".join(cell["source"]) for cell, inside in cells_with_solution_flag(path)
            if inside and cell["cell_type"] == "code"]


def _namespace(path: Path) -> dict[str, Any]:
    """The notebook's imports and its own top-level functions, without running anything else.

    A function whose definition needs the notebook's data (a default value computed above it) is left out.
    """
    namespace: dict[str, Any] = {}
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef):
                try:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)
                except NameError:
                    assert isinstance(node, ast.FunctionDef), f"{ast.unparse(node)} fails in {path.name}"
    return namespace


def _exercise(label: str) -> tuple[Path, str]:
    """The notebook that holds exercise ``label``, and the exercise's text."""
    found = []
    for path in notebooks():
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            match = re.search(rf":label: {label}\n(.*?)\n:::", "".join(cell["source"]), re.DOTALL)
            if match:
                found.append((path, " ".join(match.group(1).split())))
    assert len(found) == 1, f"exercise {label} found {len(found)} times"
    return found[0]


@pytest.mark.parametrize("label", LABELS)
def test_the_exercise_names_its_checker_and_the_book_solution_passes_it(label: str) -> None:
    name = check.CHECKERS[label].__name__
    path, exercise = _exercise(label)
    assert f"check.{name}({name})" in exercise, f"exercise {label} does not tell the reader how to check"
    calls = [cell for cell in _solution_cells(path) if f"check.{name}({name}).require()" in cell]
    assert calls, f"no solution of {path.name} runs check.{name}(...).require()"
    solution = _namespace(path)[name]  # the book's function, defined as its solution defines it
    assert check.CHECKERS[label](solution), f"the book's own {name} fails its checker"
