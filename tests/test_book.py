"""The book build: every notebook executes (in time), zero warnings, and the pages carry what readers need.

The whole book is built once per test session by the `book` fixture (conftest.py). All tests that use it share
one xdist group, so only one worker builds it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, BuiltBook, book_config, notebooks

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]

NOTEBOOK_TIME_LIMIT_S = 120


def test_book_builds_without_warnings(book: BuiltBook) -> None:
    warnings = [line for line in book.log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)]
    assert book.returncode == 0 and not warnings, "\n".join(warnings) or book.log[-5000:]


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_notebook_executes_in_time(book: BuiltBook, notebook: Path) -> None:
    docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
    data = book.execution_data().get(docname)
    assert data, f"{docname} was not executed during the build"
    assert data["succeeded"], f"{docname} failed to execute: see the build log\n{book.log[-3000:]}"
    assert data["runtime"] < NOTEBOOK_TIME_LIMIT_S, f"{docname} took {data['runtime']:.0f} s"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_page_has_colab_button_and_no_unresolved_glue(book: BuiltBook, notebook: Path) -> None:
    docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
    page = book.page(docname)
    repository = book_config()["repository"]
    owner_and_name = repository["url"].removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_and_name}/blob/{repository['branch']}/{docname}.ipynb"
    assert colab in page, f"{docname}: no Colab link to {colab}"
    assert "{glue" not in page, f"{docname}: a glue reference was not resolved"


def test_chapter_one_renders_figures_maths_and_exercises(book: BuiltBook) -> None:
    page = book.page("chapters/part1/01_one_hot_to_meaning")
    assert len(re.findall(r'<img[^>]+src="[^"]*\.png"', page)) >= 2, "matplotlib figures missing"
    assert "math notranslate" in page, "maths missing"
    assert 'class="exercise admonition"' in page or "exercise admonition" in page, "exercises missing"
    assert "solution" in page and "dropdown" in page, "solutions missing or not hidden"
    assert "plotly-graph-div" in page or "application/vnd.plotly" in page, "interactive plotly figure missing"
    assert "bibtex" in page or "cite" in page, "citations missing"


def test_execution_statistics_page_lists_every_notebook(book: BuiltBook) -> None:
    page = book.page("chapters/appendix/execution")
    for notebook in notebooks():
        assert notebook.stem in page
