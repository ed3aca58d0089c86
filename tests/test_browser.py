"""The rendered book in a real browser: headless Chromium opens every page of the built book.

Checks what a reader would notice, in the English edition and in the Chinese one (`zh/`): no JavaScript errors, no
missing files, maths typeset, figures loaded, interactive plots answering the mouse, solutions opening on a click,
the Colab button pointing at this very notebook, a link to the same page in the other language. Screenshots go to
`<build>/screenshots/` (the Chinese pages' with the prefix `zh__`). Needs Debian's `chromium` and the `playwright`
package (`.ci/run` installs both, and a CJK font for the Chinese pages); without them the tests are skipped, saying
which is missing.

The last test runs Chapter 5's live explorer (ipywidgets and plotly) in a real JupyterLab with a kernel, the
one thing the static pages cannot show: that it draws, redraws when a control changes, and draws again after
the page is reloaded. It needs JupyterLab (pinned in requirements.txt) and skips without it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, BuiltBook, colab_url, free_port, script_module, toc_files

from fromzero.viz import BOOK_BUILD_VARIABLE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]

browsers = script_module(".ci/chromium.py")
CHROMIUM = browsers.chromium_path()
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if CHROMIUM is None:
    pytest.skip("no Chromium found (install Debian's 'chromium' package)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(book: BuiltBook) -> Iterator[str]:
    """Serve the built HTML on a free loopback port for the duration of the module."""
    with browsers.served(book.html) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=browsers.CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class OpenedPage:
    """A page loaded in Chromium, with every console error, page error and failed request it produced."""

    def __init__(self, browser: object, url: str) -> None:
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        self.page.on("response", self._note_error_status)
        self.page.goto(url, wait_until="networkidle")
        self.page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")

    def _note_error_status(self, response: object) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")


@pytest.mark.parametrize("docname", toc_files())
@pytest.mark.parametrize("edition", ["", "zh"], ids=["English", "Chinese"])
def test_page_renders_for_a_reader(browser: object, site: str, book: BuiltBook, edition: str, docname: str) -> None:
    opened = OpenedPage(browser, f"{site}/{edition and edition + '/'}{docname}.html")
    page = opened.page
    try:
        screenshots = book.html.parent / "screenshots"
        screenshots.mkdir(exist_ok=True)
        shot = screenshots / f"{edition and edition + '__'}{docname.replace('/', '__')}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"

        assert not opened.problems, f"{docname}: " + "; ".join(opened.problems)
        if page.locator(".math").count():
            assert page.locator("mjx-container").count() >= page.locator(".math").count(), "maths not typeset"
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        assert not broken, f"images that did not load: {broken}"
        if (ROOT / f"{docname}.ipynb").exists():
            check_colab_button(page, docname)
        check_solutions_open(page)
        check_plots_answer_hover(page)
        check_language_switch(page, f"{site}/{docname}.html" if edition else f"{site}/zh/{docname}.html")
    finally:
        page.close()


def check_language_switch(page: object, other_edition: str) -> None:
    link = page.locator(".language-switch a")
    assert link.count() == 1 and link.first.is_visible(), "no visible link to the page in the other language"
    assert link.first.evaluate("a => a.href") == other_edition


def check_colab_button(page: object, docname: str) -> None:
    colab = colab_url(docname)
    page.locator(".dropdown-launch-buttons button").first.click()
    link = page.locator(f'a[href="{colab}"]')
    assert link.count() == 1 and link.first.is_visible(), f"no visible Colab link to {colab}"


def check_solutions_open(page: object) -> None:
    solutions = page.locator(".solution.dropdown")
    for index in range(solutions.count()):
        solution = solutions.nth(index)
        body = solution.locator("section, p").last
        assert not body.is_visible(), "a solution is visible before it is clicked"
        solution.locator(".admonition-title").click()
        body.wait_for(state="visible", timeout=5000)


def check_plots_answer_hover(page: object) -> None:
    plots = page.locator(".plotly-graph-div")
    for index in range(plots.count()):
        plot = plots.nth(index)
        plot.scroll_into_view_if_needed()
        # Plotly's drag layer lies over the points, so move the mouse there rather than "hover" an element.
        box = plot.locator(".scatterlayer .point").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.locator(".hoverlayer .hovertext").first.wait_for(state="visible", timeout=5000)


# --------------------------------------------------------------------------------------------------
# Chapter 5's live explorer in a real front end: JupyterLab, a kernel, ipywidgets and plotly.
# --------------------------------------------------------------------------------------------------

JUPYTER_LAB = Path(sys.executable).with_name("jupyter-lab")
EXPLORER_NOTEBOOK = """\
import numpy as np

from fromzero.viz import EmbeddingExplorer, use_plotly_renderer

use_plotly_renderer()
words = [f"w{i}" for i in range(30)]
explorer = EmbeddingExplorer(words, np.random.default_rng(0).normal(size=(30, 8)))
explorer.widget("w0", k=3, method="pca")
"""


JUPYTERLAB_SETTINGS = {  # no dialog asking which kernel to start, no offer to fetch news from the web
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab server on loopback, serving a notebook that shows the explorer widget; yields the notebook's URL."""
    if not JUPYTER_LAB.exists():
        pytest.skip(f"JupyterLab is not installed ({JUPYTER_LAB} missing; requirements.txt pins it)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXPLORER_NOTEBOOK)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "explorer.ipynb")
    for plugin, settings in JUPYTERLAB_SETTINGS.items():
        path = tmp_path / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    port, token = free_port(), secrets.token_hex(16)
    environment = {key: value for key, value in os.environ.items() if key != BOOK_BUILD_VARIABLE}
    environment.update(
        {  # keep JupyterLab's settings, workspaces and runtime files out of the user's home
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        }
    )
    command = [
        str(JUPYTER_LAB),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no look-ups on PyPI
        "--allow-root",  # CI runs as root
    ]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):  # the server takes a few seconds to start
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(tmp_path / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer on {url}:\n{(tmp_path / 'server.log').read_text()}")
        yield f"{url}/lab/tree/explorer.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


class LiveExplorer:
    """The explorer notebook open in JupyterLab: run it, drive its controls, read its figure."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.plot = page.locator(".jp-OutputArea .js-plotly-plot")

    def run_all(self) -> None:
        """Run the notebook once its kernel is connected and idle (a command sent earlier can be lost)."""
        self.page.wait_for_function(
            """() => {
                const notebook = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const kernel = notebook && notebook.sessionContext && notebook.sessionContext.session
                    && notebook.sessionContext.session.kernel;
                return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
            }""",
            timeout=90_000,
        )
        self.page.evaluate(
            "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
        )  # no waiting on the run

    def drawn(self, x_title: str, query: str, points: int = 30) -> None:
        """Wait until the figure shows the projection ``x_title`` and ``query``'s neighbours, with every point.

        The bound is generous because it only matters on failure: beside the book's notebooks the kernel's first run
        (torch's import, t-SNE) took over a minute.
        """
        self.page.wait_for_function(
            """([title, legend, points]) => {
                const plots = document.querySelectorAll('.jp-OutputArea .js-plotly-plot');
                if (plots.length !== 1) return false;
                const plot = plots[0];
                const xtitle = plot.querySelector('.xtitle');
                const names = [...plot.querySelectorAll('.legendtext')].map(text => text.textContent);
                return xtitle && xtitle.textContent === title && names.includes(legend)
                    && plot.querySelectorAll('.scatterlayer .point').length >= points;
            }""",
            arg=[x_title, f"3 nearest to {query}", points],
            timeout=180_000,
        )

    def choose_projection(self, name: str) -> None:
        self.page.locator(".widget-toggle-button", has_text=name).click()

    def type_word(self, word: str) -> None:
        box = self.page.get_by_placeholder("type a word")
        box.fill(word)
        box.press("Enter")

    def save(self) -> None:
        self.page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_function("!window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=20_000)


@pytest.mark.xdist_group("jupyterlab")  # not behind the book build: this test needs no book
def test_explorer_widget_draws_and_redraws_in_jupyterlab_after_a_reload(browser: object, jupyter_lab: str) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        page.goto(jupyter_lab)
        live = LiveExplorer(page)
        live.run_all()
        live.drawn("PCA 1", "w0")
        live.choose_projection("t-SNE")
        live.drawn("t-SNE 1", "w0")
        live.type_word("w7")
        live.drawn("t-SNE 1", "w7")
        live.save()

        # A reload rebuilds the page: the saved output comes back from the live kernel's widgets and must draw
        # again, with no earlier output having loaded plotly.js; so must a second run.
        page.reload()
        live.drawn("t-SNE 1", "w7")
        live.run_all()
        live.drawn("PCA 1", "w0")
        live.choose_projection("t-SNE")
        live.drawn("t-SNE 1", "w0")
    finally:
        page.close()
