"""A Sphinx extension with the book's build fixes: pages that work offline and log no errors.

- MathJax is served from the built book instead of a CDN, so maths renders for a reader who opened
  the HTML offline (a lab machine, a downloaded copy) and in the browser tests, which have no
  network. MathJax 3 comes from the pip package ``django-static-mathjax`` (plain MathJax files, no
  Django needed); its ``tex-mml-chtml`` bundle and the files it loads on demand are copied into
  ``_static/mathjax``. Without that package, Sphinx's default CDN address stays in place.
- plotly.js is served once per book instead of once per page. The notebooks learn that they run
  inside the book build from the environment variable ``FROMZERO_BOOK_BUILD``, which this
  extension sets before Sphinx executes them (the kernels inherit it); then
  :func:`fromzero.viz.use_plotly_renderer` writes every plotly figure without the library. The
  extension copies ``plotly.min.js`` from the installed ``plotly`` package into ``_static`` and
  loads it, synchronously in the page's head, in the pages that have a plotly figure: 4.8 MB that
  the browser downloads once and caches, where each such page used to inline its own copy.
- A notebook's saved ipywidgets state is left out of its page. Only the widget manager's
  JavaScript reads it, and the book loads none (``nb_ipywidgets_js`` is empty in ``_config.yml``:
  it would come from a CDN), so the state would be dead weight: Chapter 5's explorer widget,
  executed by the build but shown only with a kernel, would add 46 kB of JSON to its page.
- The ``chapter-times`` directive (the syllabus page) tabulates, for every notebook in book order, an
  estimated reading time (prose at :data:`WORDS_PER_MINUTE`, code at :data:`CODE_LINES_PER_MINUTE`,
  counted in the notebook's source), the seconds this build took to execute it, and its exercises
  with how many of them a :mod:`fromzero.check` checker tests, so that an instructor plans with
  figures the build computed rather than typed ones.
- The student edition (``FROMZERO_EDITION=student``, ``make student``) leaves every solution out of
  the build: out of the pages, the search index and the page sources (which are not copied), so that
  a student cannot find one anywhere in it; its Colab buttons open the student notebooks, published
  in :data:`STUDENT_FOLDER` below the book.
- Scripts registered twice are written once. sphinx-thebe (which Jupyter Book 1 always loads)
  can register its inline configuration script twice in one build, and the second copy's
  ``const`` declarations throw "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import posixpath
import re
import shutil
from importlib.util import find_spec
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from fromzero.viz import BOOK_BUILD_VARIABLE, plotly_js_file

BUNDLE = "tex-mml-chtml.js"
PLOTLY_JS = "plotly.min.js"  # its place in _static
PLOTLY_CONFIG = "window.PlotlyConfig = {MathJaxConfig: 'local'};"  # as plotly's own HTML: leave the page's MathJax be
PLOTLY_FIGURE = 'class="plotly-graph-div"'
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
EDITION_VARIABLE = "FROMZERO_EDITION"  # "student": solutions are left out of everything the build writes
STUDENT_FOLDER = "student"  # where the student edition is published, below the book's own address
WORDS_PER_MINUTE = 200  # careful reading of technical prose with formulas, at the low end of adult silent reading
CODE_LINES_PER_MINUTE = 10  # reading a line of code closely enough to change it


def _mathjax_es5() -> Path | None:
    spec = find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    return folder if (folder / BUNDLE).exists() else None


def _skip_other_bundles(directory: str, names: list[str]) -> set[str]:
    """Keep one combined bundle and the CHTML output; drop the other bundles and the SVG output."""
    if Path(directory).name == "es5":
        return {name for name in names if name.endswith(".js") and name != BUNDLE}
    if Path(directory).name == "output":
        return {"svg"} & set(names)
    return set()


def _use_local_mathjax(app: Sphinx) -> None:
    if _mathjax_es5() is not None and app.builder.format == "html":
        app.config.mathjax_path = f"mathjax/{BUNDLE}"


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    source = _mathjax_es5()
    if exception is not None or source is None or app.builder.format != "html":
        return
    shutil.copytree(source, Path(app.outdir) / "_static" / "mathjax", ignore=_skip_other_bundles, dirs_exist_ok=True)


def _mark_book_build(app: Sphinx, config: Config) -> None:
    os.environ[BOOK_BUILD_VARIABLE] = "1"


def student_edition() -> bool:
    return os.environ.get(EDITION_VARIABLE) == "student"


def _configure_edition(app: Sphinx, config: Config) -> None:
    if not student_edition():
        return
    config.html_copy_source = False  # a page's source holds its solutions
    options = dict(config.html_theme_options)
    options["use_download_button"] = False  # it offers the page's source
    options["path_to_docs"] = f"{STUDENT_FOLDER}/{options.get('path_to_docs', '').strip('/')}".rstrip("/")
    config.html_theme_options = options


def _drop_solutions(app: Sphinx, doctree: nodes.document) -> None:
    """In the student edition, remove every solution once sphinx-exercise has gathered each into one node."""
    if not student_edition():
        return
    from sphinx_exercise.nodes import solution_node

    for node in list(doctree.findall(solution_node)):
        node.parent.remove(node)


def _load_plotly_where_needed(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """Load plotly.js in the head of a page that has a plotly figure, before the figures' inline scripts run."""
    if plotly_js_file() is not None and PLOTLY_FIGURE in context.get("body", ""):
        app.add_js_file(None, body=PLOTLY_CONFIG)  # added during this event: for this page only
        app.add_js_file(PLOTLY_JS)


def _copy_plotly_js(app: Sphinx, exception: Exception | None) -> None:
    source = plotly_js_file()
    if exception is None and source is not None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, static / PLOTLY_JS)


def _drop_unread_widget_state(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    if getattr(app.config, "nb_ipywidgets_js", None) or not context.get("script_files"):
        return
    context["script_files"] = [
        script for script in context["script_files"] if getattr(script, "attributes", {}).get("type") != WIDGET_STATE
    ]


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[str] = set()
    unique = []
    for script in scripts:
        # The same inline script can arrive with filename None or '' depending on how it was registered.
        filename = str(getattr(script, "filename", script) or "")
        key = repr((filename, sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


class ChapterTimesNode(nodes.General, nodes.Element):
    """Where the rows of the ``chapter-times`` table go, once every notebook has been executed and read."""


class ChapterTimesDirective(SphinxDirective):
    """The table's caption and header, written while the page is read so that a translation of the page covers
    them; its rows wait for :class:`ChapterTimesTransform`."""

    def run(self) -> list[nodes.Node]:
        header = ("Chapter", "Words of prose", "Lines of code", "Reading (minutes)", "Execution in this build (s)",
                  "Exercises (with a checker)")
        rates = (f"Reading time at {WORDS_PER_MINUTE} words of prose and {CODE_LINES_PER_MINUTE} lines of code a "
                 "minute, rounded up to five minutes.")
        written = [nodes.paragraph(rates, rates), _table(header)]
        for paragraph in [written[0], *written[1].findall(nodes.paragraph)]:
            self.set_source_info(paragraph)  # Sphinx translates only text that says where it comes from
        return [*written, ChapterTimesNode()]


def reading_minutes(notebook: Path) -> tuple[int, int, float]:
    """Words of prose, lines of code and the minutes it takes to read them, from a notebook's source."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    words = sum(len(re.findall(r"\w+", "".join(cell["source"]))) for cell in cells if cell["cell_type"] == "markdown")
    code = sum(len([line for line in "".join(cell["source"]).splitlines() if line.strip()])
               for cell in cells if cell["cell_type"] == "code")
    return words, code, words / WORDS_PER_MINUTE + code / CODE_LINES_PER_MINUTE


def exercise_labels(notebook: Path) -> list[str]:
    """The labels of a notebook's exercises, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [label for cell in cells if cell["cell_type"] == "markdown"
            for label in re.findall(r"\{exercise\}\s*\n:label: (\S+)", "".join(cell["source"]))]


def book_order(env: BuildEnvironment) -> list[str]:
    """Every document reachable from the root's table of contents, in reading order."""
    order: list[str] = []

    def visit(docname: str) -> None:
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            visit(child)

    visit(env.config.root_doc)
    return order


class ChapterTimesTransform(SphinxPostTransform):
    """Replace the placeholder by the table: this runs after every document has been read (and executed)."""

    default_priority = 8  # before the references are resolved, so that the links to the chapters are

    def run(self, **kwargs: object) -> None:
        for node in list(self.document.findall(ChapterTimesNode)):
            table = node.previous_sibling()
            table.next_node(nodes.tbody).extend(self._rows())
            node.parent.remove(node)

    def _rows(self) -> list[nodes.row]:
        metadata = getattr(self.env, "nb_metadata", {})
        rows = []
        for docname in book_order(self.env):
            executed = (metadata.get(docname) or {}).get("exec_data")
            source = Path(self.env.doc2path(docname))
            if executed is None or source.suffix != ".ipynb":
                continue
            words, code, minutes = reading_minutes(source)
            runtime = executed.get("runtime")
            labels = exercise_labels(source)
            checkable = sum(label in checked_exercises() for label in labels)
            cells = (f"{words:,}", f"{code:,}", f"{math.ceil(minutes / 5) * 5}",
                     "-" if runtime is None else f"{runtime:.0f}", f"{len(labels)} ({checkable})")
            link = pending_xref(refdoc=self.env.docname, reftype="doc", refdomain="std", refexplicit=False,
                                refwarn=True,
                                reftarget=posixpath.relpath(docname, posixpath.dirname(self.env.docname)))
            link += nodes.inline(text=docname)
            rows.append(nodes.row("", nodes.entry("", nodes.paragraph("", "", link)),
                                  *(nodes.entry("", nodes.paragraph(text=cell)) for cell in cells)))
        return rows


@functools.cache
def checked_exercises() -> frozenset[str]:
    """The exercise labels that :mod:`fromzero.check` has a checker for: the keys of its ``CHECKERS``, read from
    its source, so that the book's tools start without importing torch."""
    source = Path(find_spec("fromzero.check").origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "CHECKERS":
            return frozenset(ast.literal_eval(key) for key in node.value.keys)
    raise RuntimeError("fromzero/check.py defines no CHECKERS table")


def _table(header: tuple[str, ...]) -> nodes.table:
    """A table with ``header`` and an empty body."""
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group += [nodes.colspec(colwidth=1) for _ in header]
    group += nodes.thead("", nodes.row("", *(nodes.entry("", nodes.paragraph(name, name)) for name in header)))
    group += nodes.tbody()
    return table


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_node(ChapterTimesNode)
    app.add_directive("chapter-times", ChapterTimesDirective)
    app.add_post_transform(ChapterTimesTransform)
    app.connect("config-inited", _mark_book_build)
    app.connect("config-inited", _configure_edition)
    app.connect("doctree-read", _drop_solutions)
    app.connect("builder-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _copy_plotly_js)
    app.connect("html-page-context", _load_plotly_where_needed)
    app.connect("html-page-context", _drop_unread_widget_state, priority=900)  # after myst-nb adds it
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)  # after the themes add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
