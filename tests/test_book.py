"""The book build: every notebook executes (in time), zero warnings, and the pages carry what readers need.

The whole book is built once per test session by the `book` fixture (conftest.py). All tests that use it share
one xdist group, so only one worker builds it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, BuiltBook, colab_url, notebooks, script_module

from fromzero.check import CHECKERS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]

NOTEBOOK_TIME_LIMIT_S = 300  # no notebook may run longer, on 2 CPU cores at the small scale
UNANNOUNCED_LIMIT_S = 120  # a notebook that runs longer than this says so in its first cell
RUN_TIME_NOTE = re.compile(r"runs for (about|up to) \w+ minutes")
# What a reader should see under a cell: a table, a figure, formatted text, a widget. An execute_result with none
# of these is a bare value or a raw repr ("14", "np.float64(0.96)", "<pandas...Styler at 0x7f...>").
RICH_OUTPUTS = ("text/html", "text/markdown", "text/latex", "image/", "application/vnd.")
RAW_REPR = re.compile(r"np\.(float|int|bool|str)\w*\(|<[\w.]+ (object )?at 0x[0-9a-f]+>")


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
    if data["runtime"] > UNANNOUNCED_LIMIT_S:
        first_cell = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
        assert RUN_TIME_NOTE.search(first_cell), (
            f"{docname} took {data['runtime']:.0f} s: a notebook that needs more than {UNANNOUNCED_LIMIT_S} s says so "
            "in its first cell ('This chapter runs for about N minutes ...')"
        )


def stray_outputs(notebook: dict) -> list[str]:
    """Each output of an executed notebook that shows a bare value, a raw repr or a run of blank lines."""
    found = []
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                problem = "a run of blank lines" if re.search(r"\n[ \t]*\n[ \t]*\n", text) else None
            elif output["output_type"] in ("execute_result", "display_data"):
                data = output.get("data", {})
                text = "".join(data.get("text/plain", ""))
                rich = any(mime.startswith(RICH_OUTPUTS) for mime in data)
                if output["output_type"] == "execute_result" and not rich:
                    problem = "a bare value"
                elif not rich and RAW_REPR.search(text):
                    problem = "a raw repr"
                else:
                    problem = None
            else:
                problem = None
            if problem:
                found.append(f"code cell {number}: {problem}: {text[:80]!r}")
    return found


def test_stray_output_finder_flags_bare_values_reprs_and_blank_runs() -> None:
    def cell(*outputs: dict) -> dict:
        return {"cell_type": "code", "outputs": list(outputs)}

    table = {"output_type": "execute_result", "data": {"text/plain": "   a\n0  1", "text/html": "<table/>"}}
    bare = {"output_type": "execute_result", "data": {"text/plain": "66791"}}
    styler = {"output_type": "execute_result", "data": {"text/plain": "<pandas.io.formats.style.Styler at 0x7f3a>"}}
    repr_line = {"output_type": "display_data", "data": {"text/plain": "np.float64(0.962)"}}
    labelled = {"output_type": "stream", "name": "stdout", "text": ["loss: 0.412 after 300 steps\n"]}
    blank_run = {"output_type": "stream", "name": "stdout", "text": ["the king\n\n\n\nof\n"]}
    glued = {"output_type": "display_data", "data": {"application/papermill.record/text/plain": "0.5"}}
    assert stray_outputs({"cells": [cell(table, labelled, glued)]}) == []
    problems = stray_outputs({"cells": [cell(bare), cell(styler, repr_line), cell(blank_run)]})
    assert [problem.split(":")[1].strip() for problem in problems] == [
        "a bare value", "a bare value", "a raw repr", "a run of blank lines"
    ]


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_page_shows_no_stray_outputs(book: BuiltBook, notebook: Path) -> None:
    docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
    problems = stray_outputs(book.executed(docname))
    assert not problems, f"{docname}:\n" + "\n".join(problems)


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_page_has_colab_button_and_no_unresolved_glue(book: BuiltBook, notebook: Path) -> None:
    docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
    page = book.page(docname)
    colab = colab_url(docname)
    assert colab in page, f"{docname}: no Colab link to {colab}"
    assert set(re.findall(r"https://colab\.research\.google\.com/[^\"']+", page)) == {colab}
    assert "{glue" not in page, f"{docname}: a glue reference was not resolved"
    footer = re.search(r'<p class="licences">(.*?)</p>', page, re.S)
    assert footer and "CC BY-SA 4.0" in footer.group(1) and ">MIT<" in footer.group(1), f"{docname}: no licences"


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


def test_syllabus_tabulates_every_notebook_with_times_the_build_computed(book: BuiltBook) -> None:
    page = book.page("chapters/appendix/syllabus")
    table = page[page.index("Reading time at") :]
    table = table[: table.index("</table>")]
    rows = [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]
    rows = [row for row in rows if row]  # the header row has <th> cells
    assert len(rows) == len(notebooks())
    checkable = 0
    for title, words, code, reading, seconds, exercises in rows:
        assert title and int(words.replace(",", "")) > 300 and int(code.replace(",", "")) >= 0
        assert int(reading) % 5 == 0 and int(reading) > 0 and 0 < float(seconds) < NOTEBOOK_TIME_LIMIT_S, title
        count, checked = re.fullmatch(r"(\d+) \((\d+)\)", exercises).groups()
        assert int(count) >= 3 and int(checked) <= int(count), title
        checkable += int(checked)
    assert checkable == len(CHECKERS)
    for notebook in notebooks():
        assert f'href="../{notebook.parent.name}/{notebook.stem}.html"' in table or notebook.parent.name == "appendix"


def test_reading_time_counts_prose_and_code_in_the_source(tmp_path: Path) -> None:
    sphinx_book = script_module(".ci/sphinx_book.py")

    cells = [{"cell_type": "markdown", "source": ["word " * 300, "\n", "more words"]},
             {"cell_type": "code", "source": ["x = 1\n", "\n", "print(x)\n"]}]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    rates = sphinx_book.WORDS_PER_MINUTE, sphinx_book.CODE_LINES_PER_MINUTE
    assert sphinx_book.reading_minutes(path) == (302, 2, 302 / rates[0] + 2 / rates[1])


def test_the_books_tools_know_the_checked_exercises_without_importing_torch() -> None:
    assert script_module(".ci/sphinx_book.py").checked_exercises() == set(CHECKERS)
    probe = "import sys; sys.path.insert(0, '.ci'); import colab, student; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", "the Colab and student-edition tools import torch at start-up"


def test_exercise_labels_are_read_from_the_exercise_directives(tmp_path: Path) -> None:
    cells = [{"cell_type": "markdown", "source": [":::{exercise}\n", ":label: ch01-a\n", "\n", "Do it.\n", ":::"]},
             {"cell_type": "markdown", "source": ["```{figure} x.png\n", ":label: fig-x\n", "```"]},
             {"cell_type": "code", "source": ["# :::{exercise}\n", "# :label: not-one"]}]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert script_module(".ci/sphinx_book.py").exercise_labels(path) == ["ch01-a"]


def split_solutions(notebook: Path) -> tuple[list[str], str]:
    """The prose of every solution in a notebook's source (a solution directive's body, or a gated solution's
    Markdown cells), and the rest of its source. Code is left out: a solution's code may glue text into the chapter."""
    texts, rest, gated = [], [], None
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if gated is not None:
            end = re.search(r"^(`{3,}|:{3,})\{solution-end\}", source, re.M)
            if cell["cell_type"] == "markdown":
                gated.append(source[: end.start()] if end else source)
            if end:
                texts.append("\n".join(gated))
                gated = None
            continue
        if cell["cell_type"] == "markdown":
            blocks = re.findall(r"^((:{3,})\{solution\}[^\n]*\n(.*?)^\2\s*$)", source, re.M | re.S)
            texts += [body for _, _, body in blocks]
            for whole, _, _ in blocks:
                source = source.replace(whole, " ")
            start = re.search(r"^(`{3,}|:{3,})\{solution-start\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*\1\s*$", source, re.M)
            if start:
                gated = [source[start.end() :]]
                source = source[: start.start()]
        rest.append(source)
    return texts, "\n".join(rest)


def plain(text: str) -> str:
    """Text as a page shows it: tags stripped, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def telltale(solution: str, elsewhere: str) -> str | None:
    """The longest run of six or more plain words in a solution (it survives rendering unchanged) found nowhere else
    in its notebook's source."""
    prose = re.sub(r"\$[^$]*\$|`[^`]*`|\{[^}]*\}|\[[^\]]*\]\([^)]*\)|^:[\w-]+:.*$", " ", solution, flags=re.M)
    runs = [run for run in re.findall(r"(?:[A-Za-z]+ ){5,}[A-Za-z]+", prose) if run not in elsewhere]
    return max(runs, key=len) if runs else None


def test_student_edition_has_no_solution_anywhere(book: BuiltBook) -> None:
    assert book.student_returncode == 0, book.student_log[-5000:]
    student_files = {path: plain(path.read_text(encoding="utf-8", errors="replace"))
                     for path in book.student_html.rglob("*") if path.suffix in (".html", ".ipynb")
                     or path.name == "searchindex.js"}
    assert not (book.student_html / "_sources").exists(), "the page sources hold the solutions"
    checked = 0
    for notebook in notebooks():
        docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
        instructor = plain(book.page(docname))
        solutions, rest = split_solutions(notebook)
        elsewhere = " ".join(rest.split())
        for solution in solutions:
            words = telltale(solution, elsewhere)
            if words is None:
                continue
            assert words in instructor, f"{docname}: the instructor edition should show {words!r}"
            leaks = [path.name for path, text in student_files.items() if words in text]
            assert not leaks, f"{docname}: solution text {words!r} in the student edition: {leaks}"
            checked += 1
        student_page = plain((book.student_html / f"{docname}.html").read_text(encoding="utf-8"))
        assert "Solution to" not in student_page and "Exercise" in student_page, docname
    assert checked >= 40, f"only {checked} solutions had text to look for"
