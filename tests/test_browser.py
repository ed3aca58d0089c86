"""The rendered book in a real browser: headless Chromium opens every page of the built book.

Checks what a reader would notice: no JavaScript errors, no missing files, maths typeset, figures loaded,
interactive plots answering the mouse, solutions opening on a click, the Colab button pointing at this very
notebook. Screenshots go to `<build>/screenshots/`. Needs Debian's `chromium` and the `playwright` package
(CI installs both); without them the tests are skipped, saying which is missing.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator

import pytest
from conftest import ROOT, BuiltBook, book_config, toc_files

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if CHROMIUM is None:
    pytest.skip("no Chromium found (install Debian's 'chromium' package)", allow_module_level=True)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are checked in the browser; the server's own log would only bury pytest's output."""


@pytest.fixture(scope="module")
def site(book: BuiltBook) -> Iterator[str]:
    """Serve the built HTML on a free loopback port for the duration of the module."""
    handler = functools.partial(QuietHandler, directory=str(book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
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
def test_page_renders_for_a_reader(browser: object, site: str, book: BuiltBook, docname: str) -> None:
    opened = OpenedPage(browser, f"{site}/{docname}.html")
    page = opened.page
    try:
        screenshots = book.html.parent / "screenshots"
        screenshots.mkdir(exist_ok=True)
        shot = screenshots / f"{docname.replace('/', '__')}.png"
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
    finally:
        page.close()


def check_colab_button(page: object, docname: str) -> None:
    repository = book_config()["repository"]
    owner_and_name = repository["url"].removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_and_name}/blob/{repository['branch']}/{docname}.ipynb"
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

