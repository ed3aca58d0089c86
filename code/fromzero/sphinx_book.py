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
- Scripts registered twice are written once. sphinx-thebe (which Jupyter Book 1 always loads)
  can register its inline configuration script twice in one build, and the second copy's
  ``const`` declarations throw "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

from fromzero.viz import BOOK_BUILD_VARIABLE, plotly_js_file

BUNDLE = "tex-mml-chtml.js"
PLOTLY_JS = "plotly.min.js"  # its place in _static
PLOTLY_CONFIG = "window.PlotlyConfig = {MathJaxConfig: 'local'};"  # as plotly's own HTML: leave the page's MathJax be
PLOTLY_FIGURE = 'class="plotly-graph-div"'
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


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


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("config-inited", _mark_book_build)
    app.connect("builder-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _copy_plotly_js)
    app.connect("html-page-context", _load_plotly_where_needed)
    app.connect("html-page-context", _drop_unread_widget_state, priority=900)  # after myst-nb adds it
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)  # after the themes add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
