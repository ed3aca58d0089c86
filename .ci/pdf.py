"""Print the built book to one PDF: Chromium prints each page, in the order of _toc.yml, and pypdf joins them.

usage: python .ci/pdf.py [--build-dir _build]

Run after the book's own build (``make book``): the PDF shows exactly what the HTML book shows, with its executed
outputs, its figures and its maths typeset by the book's own offline MathJax. Solutions are printed open, under
their exercises (the instructor's edition). Chromium is Debian's ``chromium``, driven by the ``playwright`` package;
the Chinese of the glossary needs a CJK font (Debian's ``fonts-wqy-microhei``), which ``.ci/run`` installs. Each
chapter starts on a new page and gets an entry in the PDF's outline, under its part. The result is
``<build>/pdf/book.pdf``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from chromium import CHROMIUM_FLAGS, chromium_path, served
from execute import add_build_dir, toc_parts
from playwright.sync_api import Page, sync_playwright
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]

# Solutions open, the launch buttons and the page's own navigation left out, long code lines wrapped instead of
# cut at the margin, a chapter's sections kept whole where they fit: the PDF is read on paper.
PRINT_PAGE = """() => {
  const style = document.createElement('style');
  style.textContent = `
    html { font-size: 13px; }
    pre, pre code { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible !important; }
    .cell, .cell_input, .cell_output, .highlight, div[class^="highlight-"] { display: block !important; }
    .math, mjx-container { overflow: visible !important; }
    .bd-main .bd-content .bd-article-container { max-width: none !important; }
    table { font-size: 0.8em; }
    .admonition, section, .cell, .cell_input, .cell_output, pre { break-inside: auto !important; }
    img, svg, .plotly-graph-div { max-width: 100% !important; break-inside: avoid; }
    h1, h2, h3 { break-after: avoid; }
    * { transition: none !important; animation: none !important; }
  `;
  document.head.appendChild(style);
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.header-article, .prev-next-area, .bd-sidebar-primary, .bd-sidebar-secondary, '
    + '.toggle-button, .bd-footer-content').forEach(e => e.remove());
}"""


TYPESET = "() => document.querySelectorAll('mjx-container').length >= document.querySelectorAll('.math').length"
MATHJAX_SECONDS = 120


def _print_page(page: Page, url: str, path: Path) -> str:
    """Print one page of the book to ``path``; return its title for the outline."""
    page.goto(url, wait_until="networkidle")
    # MathJax typesets after the page has loaded, and on a busy machine well after: wait for every formula.
    page.wait_for_function(TYPESET, timeout=MATHJAX_SECONDS * 1000)
    page.evaluate(PRINT_PAGE)
    page.emulate_media(media="print")
    page.pdf(path=str(path), format="A4", print_background=True,
             margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"})
    return page.locator("article h1").first.inner_text().strip().rstrip("#").strip()


def build_pdf(html: Path, output: Path) -> tuple[int, int]:
    """Print every page of ``html`` into one PDF at ``output``; return its pages and bytes."""
    chromium = chromium_path()
    if chromium is None:
        raise SystemExit("error: no Chromium found: install Debian's 'chromium' package (.ci/run does, as root)")
    writer = PdfWriter()
    with tempfile.TemporaryDirectory() as scratch, served(html) as site, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        for caption, docnames in toc_parts():
            part = None if caption is None else writer.add_outline_item(title=caption, page_number=len(writer.pages))
            for docname in docnames:
                printed = Path(scratch) / "page.pdf"
                title = _print_page(page, f"{site}/{docname}.html", printed)
                first_page = len(writer.pages)
                writer.append(PdfReader(printed))
                writer.add_outline_item(title=title, page_number=first_page, parent=part)
                print(f"{docname}: {len(writer.pages) - first_page} pages ({title})")
        browser.close()
    writer.add_metadata({"/Title": "From Zero: Word Embeddings, Pretrained Models and Fine-Tuning"})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as file:
        writer.write(file)
    return len(writer.pages), output.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_build_dir(parser)
    arguments = parser.parse_args()
    html = arguments.build_dir / "html"
    if not (html / "index.html").exists():
        print(f"error: no built book in {html}: build it first (make book)", file=sys.stderr)
        return 1
    pages, size = build_pdf(html, arguments.build_dir / "pdf" / "book.pdf")
    print(f"{arguments.build_dir / 'pdf' / 'book.pdf'}: {pages} pages, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
