"""The notebooks the Colab buttons open (.ci/colab.py): the build's values and outputs, solutions shut."""

from __future__ import annotations

import dataclasses
import re

import nbformat
import pytest
from conftest import ROOT, BuiltBook, book_config, notebooks, script_module

colab = script_module(".ci/colab.py")

RAW_MYST = re.compile(r"\{[\w:-]+\}`|^\s*(`{3,}|:{3,})\{|^\([\w.-]+\)=\s*$|\{glue|\{\{", re.MULTILINE)


def tiny_book() -> colab.Book:
    return colab.Book(
        url="https://example.org/book/",
        terms={"word2vec": ("chapters/appendix/glossary", "term-Word2Vec")},
        labels={"ch01-window": ("chapters/part1/01", "ch01-window", "Windows")},
        citations={"levy2015improving": "Levy et al.|2015|id7", "firth1957synopsis": "Firth|1957|id3"},
        exercise_numbers={"chapters/part1/01": {"ch01-window": (1, 3)}},
        references_page="chapters/appendix/references",
    )


def page(**glue: dict) -> colab.Page:
    return colab.Page("chapters/part1/01", {name: {"data": data} for name, data in glue.items()})


def test_roles_become_values_links_and_citations() -> None:
    text = ("{term}`Word2Vec` has {glue:text}`size:,` words ({glue:text}`share:.1%`), {glue:md}`verdict`; "
            "see {ref}`ch01-window`, {cite:t}`levy2015improving` and {cite:p}`levy2015improving,firth1957synopsis`.")
    converted = colab.convert_text(text, page(size={"text/plain": "12345"}, share={"text/plain": "0.1234"},
                                              verdict={"text/markdown": "*better*"}), tiny_book())
    assert converted == (
        "[Word2Vec](https://example.org/book/chapters/appendix/glossary.html#term-Word2Vec) has 12,345 words (12.3%), "
        "*better*; see [Windows](https://example.org/book/chapters/part1/01.html#ch01-window), "
        "[Levy et al. (2015)](https://example.org/book/chapters/appendix/references.html#id7) and "
        "([Firth, 1957](https://example.org/book/chapters/appendix/references.html#id3); "
        "[Levy et al., 2015](https://example.org/book/chapters/appendix/references.html#id7))."
    )


def test_author_year_keeps_name_particles_and_shortens_long_author_lists() -> None:
    from pybtex.database import Entry, Person

    two = Entry("article", fields={"year": "2008"}, persons={"author": [Person("van der Maaten, Laurens"),
                                                                        Person("Hinton, Geoffrey")]})
    many = Entry("article", fields={"year": "2013"}, persons={"author": [Person("Mikolov, Tomas"), Person("others")]})
    assert colab.author_year(two) == "van der Maaten and Hinton|2008"
    assert colab.author_year(many) == "Mikolov et al.|2013"


def test_exercises_solutions_notes_and_links_become_plain_markdown() -> None:
    text = ("(ch01-target)=\n:::{exercise}\n:label: ch01-window\n\nTry windows of 1 and 10.\n:::\n\n"
            ":::{solution} ch01-window\n:class: dropdown\n\nThe window of 1 comes last.\n:::\n\n"
            "```{note}\nRead [chapter 2](../part1/02_word2vec.ipynb#skip-gram) first.\n```")
    converted = colab.convert_text(text, page(), tiny_book())
    assert converted == (
        "#### Exercise 1.3\n\nTry windows of 1 and 10.\n\n"
        "<details>\n<summary>Solution to Exercise 1.3</summary>\n\nThe window of 1 comes last.\n\n</details>\n\n"
        "> **Note**\n>\n> Read [chapter 2](https://example.org/book/chapters/part1/02_word2vec.html#skip-gram) first."
    )


def test_a_solution_over_several_cells_is_a_section_colab_opens_collapsed() -> None:
    cells = [nbformat.v4.new_markdown_cell("```{solution-start} ch01-window\n:class: dropdown\n```"),
             nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
             nbformat.v4.new_markdown_cell("It prints one.\n\n```{solution-end}\n```"),
             nbformat.v4.new_markdown_cell("## Summary")]
    converted = colab.convert_notebook(nbformat.v4.new_notebook(cells=cells), page(), tiny_book())
    sources = [cell.source for cell in converted.cells[1:]]
    assert sources[0].startswith("#### Solution to Exercise 1.3")
    assert sources[1:] == ["print(1)", "It prints one.", "## Summary"]
    assert converted.cells[2].outputs, "the build's outputs stay"
    assert converted.metadata["colab"]["collapsed_sections"] == [converted.cells[1].metadata["id"]]


def test_the_student_edition_leaves_every_solution_out_cells_and_all() -> None:
    cells = [nbformat.v4.new_markdown_cell(":::{exercise}\n:label: ch01-window\n\nWiden the window.\n:::\n\n"
                                           ":::{solution} ch01-window\n:class: dropdown\n\nSimLex drops.\n:::"),
             nbformat.v4.new_markdown_cell("Text before.\n\n```{solution-start} ch01-window\n```"),
             nbformat.v4.new_code_cell("print('hidden')"),
             nbformat.v4.new_markdown_cell("It prints.\n\n```{solution-end}\n```"),
             nbformat.v4.new_markdown_cell("## Summary")]
    student = dataclasses.replace(tiny_book(), student=True)
    converted = colab.convert_notebook(nbformat.v4.new_notebook(cells=cells), page(), student)
    text = "\n".join(cell.source for cell in converted.cells)
    assert "Widen the window." in text and "Text before." in text and "## Summary" in text
    assert "SimLex drops" not in text and "hidden" not in text and "It prints" not in text and "Solution" not in text
    assert converted.metadata["colab"]["collapsed_sections"] == []


def test_a_solution_that_would_hide_what_follows_it_is_refused() -> None:
    cells = [nbformat.v4.new_markdown_cell("```{solution-start} ch01-window\n```"),
             nbformat.v4.new_code_cell("print(1)"),
             nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
             nbformat.v4.new_markdown_cell("The chapter goes on without a heading.")]
    with pytest.raises(colab.MystError, match="would hide the cell after it"):
        colab.convert_notebook(nbformat.v4.new_notebook(cells=cells), page(), tiny_book())


@pytest.mark.parametrize("text, problem", [("{eq}`energy`", "role {eq}"), (":::{figure} a.png\n:::", "{figure}"),
                                           ("{glue:text}`missing`", "no glued value 'missing'"),
                                           (":::{note}\nnever closed", "not closed")])
def test_myst_it_cannot_translate_stops_it_naming_the_page(text: str, problem: str) -> None:
    with pytest.raises(colab.MystError, match=re.escape(problem)) as error:
        colab.convert_text(text, page(), tiny_book())
    assert "chapters/part1/01" in str(error.value)


def colab_notebook(book: BuiltBook, docname: str) -> nbformat.NotebookNode:
    folder = colab.colab_folder(book_config())
    path = book.html / folder / f"{docname}.ipynb"
    assert path.is_file(), f"no Colab notebook for {docname}:\n{book.log[-3000:]}"
    return nbformat.read(path, as_version=4)


def docnames() -> list[str]:
    return [path.relative_to(ROOT).with_suffix("").as_posix() for path in notebooks()]


@pytest.mark.slow
@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("docname", docnames())
def test_colab_notebook_has_no_raw_myst_and_keeps_the_outputs(book: BuiltBook, docname: str) -> None:
    notebook = colab_notebook(book, docname)
    nbformat.validate(notebook)
    raw = [match.group(0) for cell in notebook.cells if cell.cell_type == "markdown"
           for match in RAW_MYST.finditer(cell.source)]
    assert not raw, f"{docname}: raw MyST in the Colab notebook: {raw[:5]}"
    executed = book.executed(docname)
    visible = sum(1 for cell in executed["cells"] if cell["cell_type"] == "code"
                  and any(colab.shown_in_colab(output) for output in cell.get("outputs", [])))
    kept = sum(1 for cell in notebook.cells if cell.cell_type == "code" and cell.outputs)
    assert kept == visible > 0, f"{docname}: {kept} cells with outputs, the build has {visible}"
    figures = [output["data"]["text/html"] for cell in notebook.cells for output in cell.get("outputs", [])
               if colab.PLOTLY_FIGURE in output.get("data", {}).get("text/html", "")]
    assert all(figure.startswith(colab.PLOTLY_SCRIPT) for figure in figures), "a figure without plotly.js"


@pytest.mark.slow
@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("docname", docnames())
def test_colab_notebook_keeps_every_solution_closed(book: BuiltBook, docname: str) -> None:
    notebook = colab_notebook(book, docname)
    collapsed = set(notebook.metadata["colab"]["collapsed_sections"])
    headings = {cell.metadata.get("id") for cell in notebook.cells if cell.source.startswith("#### Solution")}
    assert headings == collapsed == {cell.id for cell in notebook.cells if cell.source.startswith("#### Solution")}
    for cell in notebook.cells:
        for solution in re.finditer(r"Solution to Exercise [\d.]+", cell.source):
            before = cell.source[:solution.start()]
            assert before.endswith("<summary>") or (before == "#### " and cell.metadata.get("id") in collapsed), (
                f"{docname}: a solution left open: {cell.source[:80]!r}")
