"""Write the notebooks that the book's Colab buttons open: the build's executed notebooks in plain Markdown.

usage: python .ci/colab.py [--build-dir _build] [--student]

Run after ``jupyter-book build``. A chapter's source notebook is MyST: in Colab its roles and directives
would show as raw text, its glued numbers as names and its solutions in the open. For every notebook
of the book this writes ``<build>/html/<folder>/<page>.ipynb`` (the folder is ``path_to_docs`` in
``_config.yml``, which also points the launch buttons there) with

* the build's outputs (those that only carry glued values are dropped: Colab cannot show them);
* ``{glue:text}`` and ``{glue:md}`` replaced by the values this build computed;
* glossary terms, cross-references and links to other chapters as links into the published book
  (``html.baseurl``), citations as author-year text linked to the references page;
* exercises as headings numbered as in the book; a one-cell solution inside ``<details>``, a solution
  that spans cells (code included) as a section that Colab opens collapsed;
* notes and admonitions as block quotes;
* plotly figures that load plotly.js themselves (the book's pages load it once for the whole page).

With ``--student`` (the student edition, ``make student``) every solution is left out, cells and all, and the
links point into the student edition of the book.

Any MyST syntax it does not know stops it with the page and the construct, so that nothing raw reaches
a reader.
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
import yaml
from execute import add_build_dir
from myst_nb.core.variables import format_plain_text
from plotly.offline import get_plotlyjs_version
from pybtex.richtext import Text
from sphinx.pycode import ModuleAnalyzer
from sphinx_book import PLOTLY_FIGURE, STUDENT_FOLDER

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}`(?P<content>[^`]+)`")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
TARGET = re.compile(r"^\([\w.-]+\)=\s*$", re.MULTILINE)
LOCAL_LINK = re.compile(r"\]\((?P<path>(?!https?:|mailto:|#)[^)\s]+?\.(?:ipynb|md))(?P<anchor>#[^)]*)?\)")
ADMONITIONS = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important", "hint": "Hint",
               "caution": "Caution", "seealso": "See also"}
GLUE_MIME = "application/papermill.record/"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"  # progress bars: live only in the kernel that drew them
# The book's pages load plotly.js once (fromzero.viz renders figures without it); a Colab output shows on its own,
# so each figure loads it from plotly's CDN (Colab is online), at the version of the plotly that drew it.
PLOTLY_SCRIPT = f'<script src="https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js" charset="utf-8"></script>'


class MystError(ValueError):
    """MyST syntax that this converter does not translate."""


@dataclass
class Book:
    """What the conversion needs from the build: glossary, labels, citations, figure numbers, where things live."""

    url: str
    terms: dict[str, tuple[str, str]]
    labels: dict[str, tuple[str, str, str]]
    citations: dict[str, str]
    exercise_numbers: dict[str, dict[str, tuple[int, ...]]]
    references_page: str
    student: bool = False  # the student edition: solutions left out

    def link(self, docname: str, anchor: str = "") -> str:
        return f"{self.url}{docname}.html" + (f"#{anchor}" if anchor else "")


@dataclass
class Page:
    """The state of one notebook's conversion."""

    docname: str
    glue: dict[str, dict]
    collapsed: list[str] = field(default_factory=list)


def load_book(build: Path, config: dict, student: bool = False) -> Book:
    with (build / ".doctrees" / "environment.pickle").open("rb") as handle:
        environment = pickle.load(handle)
    standard = environment.domaindata["std"]
    citations = {citation.key: f"{author_year(citation.entry)}|{citation.citation_id}"
                 for citation in environment.domaindata["cite"]["citations"]}
    references = next(citation.bibliography_key.docname for citation in environment.domaindata["cite"]["citations"])
    url = config["html"]["baseurl"].rstrip("/") + "/" + (f"{STUDENT_FOLDER}/" if student else "")
    terms = dict(standard["terms"])  # lower-cased, as Sphinx matches terms; an exact match wins (English lines)
    terms.update({name.lower(): place for (kind, name), place in standard["objects"].items()
                  if kind == "term" and name.isascii()})
    return Book(url, terms, dict(standard["labels"]), citations,
                {docname: numbers.get("exercise", {}) for docname, numbers in environment.toc_fignumbers.items()},
                references, student)


def author_year(entry) -> str:
    """'Levy et al., 2015' style names and year of a pybtex entry, as the book's author-year citations print them."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")
             for person in people]
    authors = f"{names[0]} et al." if len(names) > 2 or "others" in names else " and ".join(names)
    return f"{authors}|{entry.fields.get('year', 'n.d.')}"


def convert_role(match: re.Match, page: Page, book: Book) -> str:
    name, content = match["name"], match["content"]
    if name in ("glue", "glue:text", "glue:md"):
        key, _, spec = content.partition(":")
        data = page.glue.get(key)
        if data is None:
            raise MystError(f"{page.docname}: no glued value {key!r}")
        if name == "glue:md":
            return data["data"]["text/markdown"]
        return format_plain_text(data["data"]["text/plain"], spec)
    text, target = split_reference(content)
    if name == "term":
        docname, anchor = book.terms[target.lower()]
        return f"[{text}]({book.link(docname, anchor)})"
    if name in ("ref", "numref"):
        docname, anchor, title = book.labels[target]
        return f"[{text if text != target else title}]({book.link(docname, anchor)})"
    if name in ("cite:p", "cite:t"):
        cited = sorted(book.citations[key.strip()].split("|") for key in content.split(","))  # as the book sorts them
        if name == "cite:t":
            return "; ".join(f"[{authors} ({year})]({book.link(book.references_page, anchor)})"
                             for authors, year, anchor in cited)
        return "(" + "; ".join(f"[{authors}, {year}]({book.link(book.references_page, anchor)})"
                               for authors, year, anchor in cited) + ")"
    raise MystError(f"{page.docname}: role {{{name}}} is not converted")


def split_reference(content: str) -> tuple[str, str]:
    """``text <target>`` or ``target`` (which is then also the text)."""
    explicit = re.fullmatch(r"(?s)(?P<text>.*?)\s*<(?P<target>[^<>]+)>", content)
    return (explicit["text"], explicit["target"]) if explicit else (content, content)


def convert_text(text: str, page: Page, book: Book) -> str:
    """Markdown without MyST: targets dropped, roles and local links resolved, directives rewritten."""
    text = TARGET.sub("", text)
    text = convert_directives(text, page, book)
    text = ROLE.sub(lambda match: convert_role(match, page, book), text)

    def absolute(match: re.Match) -> str:
        target = PurePosixPath(page.docname).parent / match["path"]
        docname = str(PurePosixPath(*_normalise(target.parts)).with_suffix(""))
        return f"]({book.link(docname, (match['anchor'] or '#')[1:])})"

    return LOCAL_LINK.sub(absolute, text).strip("\n")


def _normalise(parts: tuple[str, ...]) -> list[str]:
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            resolved.pop()
        elif part != ".":
            resolved.append(part)
    return resolved


def convert_directives(text: str, page: Page, book: Book) -> str:
    """Rewrite each fenced directive (backticks or colons, nested ones included) as plain Markdown."""
    lines, output, index = text.split("\n"), [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            output.append(lines[index])
            index += 1
            continue
        fence, name, argument = opening["fence"], opening["name"], opening["argument"].strip()
        closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines) and name not in ("solution-start", "solution-end"):
            raise MystError(f"{page.docname}: directive {{{name}}} is not closed")
        body = lines[index + 1:end]
        options = {}
        while body and OPTION.match(body[0]):
            option = OPTION.match(body[0])
            options[option["key"]] = option["value"]
            body = body[1:]
        content = convert_directives("\n".join(body).strip("\n"), page, book)
        output.append(render_directive(name, argument, options, content, page, book))
        index = end + 1
    return "\n".join(output)


def exercise_title(label: str, page: Page, book: Book) -> str:
    number = book.exercise_numbers.get(page.docname, {}).get(label)
    if number is None:
        raise MystError(f"{page.docname}: exercise {label!r} has no number in the build")
    return "Exercise " + ".".join(str(part) for part in number)


def render_directive(name: str, argument: str, options: dict, content: str, page: Page, book: Book) -> str:
    if name == "exercise":
        title = exercise_title(options["label"], page, book) + (f": {argument}" if argument else "")
        return f"#### {title}\n\n{content}"
    if name == "solution":
        if book.student:
            return ""
        title = "Solution to " + exercise_title(argument, page, book)
        return f"<details>\n<summary>{title}</summary>\n\n{content}\n\n</details>"
    if name in ("solution-start", "solution-end"):
        raise MystError(f"{page.docname}: {{{name}}} must open its own cell")  # handled cell by cell
    if name == "literalinclude":
        return included_code(argument, options, page)
    if name in ADMONITIONS or name == "admonition":
        title = argument if name == "admonition" else ADMONITIONS[name]
        quoted = "\n".join(f"> {line}" if line else ">" for line in content.split("\n"))
        return f"> **{title}**\n>\n{quoted}"
    raise MystError(f"{page.docname}: directive {{{name}}} is not converted")


def included_code(argument: str, options: dict, page: Page) -> str:
    """A ``literalinclude`` as a code block, read from the package now: Colab gets the notebook, not the repository.

    ``:pyobject:`` picks a class, function or method as Sphinx does (its ``ModuleAnalyzer``), so both show the same
    lines.
    """
    path = (ROOT / page.docname).parent / argument
    lines = path.read_text(encoding="utf-8").splitlines()
    if "pyobject" in options:
        tags = ModuleAnalyzer.for_file(str(path), "").find_tags()
        if options["pyobject"] not in tags:
            raise MystError(f"{page.docname}: {options['pyobject']!r} is not in {argument}")
        _, start, end = tags[options["pyobject"]]
        lines = lines[start - 1 : end]
    caption = f"*{options['caption']}*\n\n" if "caption" in options else ""
    code = "\n".join(lines).rstrip()
    return f"{caption}```{options.get('language', 'python')}\n{code}\n```"


def gated(source: str, name: str) -> re.Match | None:
    """The ``{solution-start}`` or ``{solution-end}`` fence in a cell, with its argument."""
    return re.search(rf"^(`{{3,}}|:{{3,}})\{{{name}\}}[ \t]*(?P<argument>\S*)[^\n]*\n(?::[\w-]+:[^\n]*\n)*\1[ \t]*$",
                     source, re.MULTILINE)


def nothing_after(source: str, end: re.Match | None, page: Page) -> None:
    """Refuse text after a ``{solution-end}`` fence in its cell: it would be hidden, or left out, with the solution."""
    if end is not None and source[end.end():].strip():
        raise MystError(f"{page.docname}: text after {{solution-end}} would be hidden with the solution")


def shown_in_colab(output: dict) -> bool:
    """Whether an output means something in Colab: not a glued value, not a widget of a finished kernel."""
    data = output.get("data", {})
    return WIDGET_MIME not in data and not any(mime.startswith(GLUE_MIME) for mime in data)


def with_plotly_js(output: dict) -> dict:
    html = output.get("data", {}).get("text/html")
    if html is not None and PLOTLY_FIGURE in html:
        output["data"]["text/html"] = PLOTLY_SCRIPT + html
    return output


def convert_notebook(executed: dict, page: Page, book: Book) -> dict:
    """The Colab notebook of one page: Markdown cells converted, outputs kept, gated solutions collapsed.

    In the student edition a gated solution is left out: its cells, code included, are not copied.
    """
    notebook = copy.deepcopy(executed)
    cells: list = []
    section_ends: list[int] = []  # where each collapsed solution ends: the next cell must start a new section
    in_solution = False  # inside a gated solution that the student edition leaves out
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags:
            continue
        if in_solution:
            end = gated(cell.source, "solution-end") if cell.cell_type == "markdown" else None
            in_solution = end is None
            nothing_after(cell.source, end, page)
            continue
        if cell.cell_type == "code":
            cell.outputs = [] if "remove-output" in tags else [
                with_plotly_js(output) for output in cell.outputs if shown_in_colab(output)]
            cells.append(cell)
            continue
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        source = cell.source
        start = gated(source, "solution-start")
        if start and book.student:
            before = source[:start.start()]
            if before.strip():
                cells.append(nbformat.v4.new_markdown_cell(convert_text(before, page, book)))
            end = gated(source[start.end():], "solution-end")
            in_solution = end is None
            nothing_after(source[start.end():], end, page)
            continue
        if start:
            before = source[:start.start()]
            if before.strip():
                cells.append(nbformat.v4.new_markdown_cell(convert_text(before, page, book)))
            heading_id = f"solution-{start['argument']}"
            page.collapsed.append(heading_id)
            title = "Solution to " + exercise_title(start["argument"], page, book)
            heading = nbformat.v4.new_markdown_cell(f"#### {title}\n\nOpen this section to see the solution.")
            heading.id = heading.metadata["id"] = heading_id  # Colab matches collapsed_sections on cell ids
            cells.append(heading)
            source = source[start.end():]
        end = gated(source, "solution-end")
        nothing_after(source, end, page)
        if end:
            source = source[:end.start()]
        if source.strip():
            cell.source = convert_text(source, page, book)
            cells.append(cell)
        if end:
            section_ends.append(len(cells))
    for index in section_ends:
        if index < len(cells) and not re.match(r"#{1,4} ", cells[index].source):
            raise MystError(f"{page.docname}: a collapsed solution would hide the cell after it "
                            f"({cells[index].source[:40]!r}); start that cell with a heading")
    notebook.cells = cells
    notebook.metadata.pop("widgets", None)
    notebook.metadata.pop("fromzero", None)  # the build's own scheduling hint
    notebook.metadata["colab"] = {"provenance": [], "toc_visible": True, "collapsed_sections": page.collapsed}
    banner = (f"*This is the Colab notebook of [a chapter of the book]({book.link(page.docname)}), with the outputs "
              "of the book's last build. Run the set-up cell first; every other cell then runs top to bottom.*")
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(banner, id="colab-banner"))
    return notebook


def restore_outputs(build: Path) -> None:
    """Put the cached outputs back into ``<build>/jupyter_execute``.

    With ``execute_notebooks: cache``, myst-nb 1.4 renders the cached outputs but writes the notebook to
    ``jupyter_execute`` without them; the executed notebooks there are what readers download and what the tests
    read, so they get their outputs from the cache, as a build that executes them itself would have written.
    """
    from jupyter_cache import get_cache

    cache = get_cache(build / ".jupyter_cache")
    for path in sorted((build / "jupyter_execute").rglob("*.ipynb")):
        try:
            _, notebook = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            raise MystError(f"{path}: no executed copy in the build's cache {build / '.jupyter_cache'}") from None
        nbformat.write(notebook, path)


def source_commit() -> str | None:
    """The commit this build was made from, if the book is a git checkout."""
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def pin_setup_to_commit(notebook: nbformat.NotebookNode, config: dict, commit: str | None) -> None:
    """Install the package from the commit whose outputs the notebook shows, not from a branch that moves on."""
    if commit is None:
        return
    branch = f"@{config['repository']['branch']}#subdirectory=code"
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if branch not in setup.source:
        raise MystError(f"the setup cell does not install from {config['repository']['url']}{branch}")
    setup.source = setup.source.replace(branch, f"@{commit}#subdirectory=code")


def colab_folder(config: dict) -> str:
    return config["sphinx"]["config"]["html_theme_options"]["path_to_docs"].strip("/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_build_dir(parser)
    parser.add_argument("--student", action="store_true",
                        help="the student edition: solutions left out, links into the student book")
    arguments = parser.parse_args()
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    try:
        restore_outputs(arguments.build_dir)
    except MystError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    book = load_book(arguments.build_dir, config, arguments.student)
    commit = source_commit()
    executed_root = arguments.build_dir / "jupyter_execute"
    target_root = arguments.build_dir / "html" / colab_folder(config)
    written = 0
    for executed_path in sorted(executed_root.rglob("*.ipynb")):
        docname = executed_path.relative_to(executed_root).with_suffix("").as_posix()
        glue_path = executed_path.with_suffix(".glue.json")
        glue = json.loads(glue_path.read_text(encoding="utf-8")) if glue_path.exists() else {}
        try:
            notebook = convert_notebook(nbformat.read(executed_path, as_version=4), Page(docname, glue), book)
            pin_setup_to_commit(notebook, config, commit)
        except (MystError, KeyError) as error:
            print(f"error: cannot write the Colab notebook of {docname}: {error}", file=sys.stderr)
            return 1
        target = target_root / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written += 1
    print(f"wrote {written} Colab notebooks into {target_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
