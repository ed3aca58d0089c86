"""A Sphinx extension with the book's build fixes: pages that work offline and log no errors.

- MathJax is served from the built book instead of a CDN, so maths renders for a reader who opened
  the HTML offline (a lab machine, a downloaded copy) and in the browser tests, which have no
  network. MathJax 3 comes from the pip package ``django-static-mathjax`` (plain MathJax files, no
  Django needed); its ``tex-mml-chtml`` bundle and the files it loads on demand are copied into
  ``_static/mathjax``. Without that package, Sphinx's default CDN address stays in place.
- Scripts registered twice are written once. sphinx-thebe (which Jupyter Book 1 always loads)
  can register its inline configuration script twice in one build, and the second copy's
  ``const`` declarations throw "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

from sphinx.application import Sphinx

BUNDLE = "tex-mml-chtml.js"


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
    app.connect("builder-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)  # after the themes add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
