"""`make pdf`: the built book printed to one PDF (.ci/pdf.py) holds every chapter, its maths typeset and its figures,
and the Chinese of the glossary drawn in a font that has its glyphs.

Needs Debian's `chromium` and a CJK font (`fonts-wqy-microhei`), which `.ci/run` installs; elsewhere it skips, saying
which is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import ROOT, BuiltBook, toc_files
from pypdf import PdfReader

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("book")]

if not (shutil.which("chromium") or shutil.which("chromium-browser")):
    pytest.skip("no Chromium found (install Debian's 'chromium' package)", allow_module_level=True)
if not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout.strip():
    pytest.skip("no CJK font found (install Debian's 'fonts-wqy-microhei')", allow_module_level=True)

CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_FONTS = re.compile(r"WenQuanYi|CJK|SourceHan|DroidSansFallback|AR ?PL|UMing|UKai")


def _documents(outline: list) -> list:
    """The outline's entries for pages of the book: a part's entry (followed by the list of its chapters) is not one."""
    found = []
    for index, item in enumerate(outline):
        if isinstance(item, list):
            found.extend(_documents(item))
        elif not (index + 1 < len(outline) and isinstance(outline[index + 1], list)):
            found.append(item)
    return found


class PrintedBook:
    def __init__(self, path: Path, log: str) -> None:
        self.path, self.log = path, log
        self.reader = PdfReader(path)
        # NFKC undoes the typographic ligatures Chromium prints ("ﬁ" in "classiﬁcation").
        self.texts = [unicodedata.normalize("NFKC", page.extract_text()) for page in self.reader.pages]
        pages = _documents(self.reader.outline)
        starts = [self.reader.get_destination_page_number(item) for item in pages]
        self.titles = [item.title for item in pages]
        self.ranges = list(zip(starts, [*starts[1:], len(self.reader.pages)], strict=True))


@pytest.fixture(scope="module")
def printed(book: BuiltBook) -> PrintedBook:
    result = subprocess.run([sys.executable, str(ROOT / ".ci" / "pdf.py"), "--build-dir", str(book.html.parent)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return PrintedBook(book.html.parent / "pdf" / "book.pdf", result.stdout)


def test_the_pdf_has_every_page_of_the_book_in_order_with_an_outline(printed: PrintedBook, book: BuiltBook) -> None:
    docnames = toc_files()
    assert len(printed.titles) == len(docnames)
    for docname, title, (start, end) in zip(docnames, printed.titles, printed.ranges, strict=True):
        headings = [h for h in re.findall(r"<h1>(.*?)</h1>", book.page(docname), re.DOTALL) if "headerlink" in h]
        assert headings and re.sub(r"<[^>]+>|#", "", headings[0]).strip() == title, docname
        assert end > start, f"{docname} printed no page"
        unnumbered = re.sub(r"^[\d.]+\s+", "", title)  # the printed heading leaves the section number out
        assert "".join(unnumbered.split()) in "".join(printed.texts[start].split()), f"{docname} starts elsewhere"
    assert printed.path.stat().st_size > 1_000_000


def test_the_maths_is_typeset_and_the_figures_are_printed(printed: PrintedBook, book: BuiltBook) -> None:
    raw_tex = [number + 1 for number, text in enumerate(printed.texts) if re.search(r"\\(frac|mathbf|sum)\b", text)]
    assert not raw_tex, f"TeX source instead of typeset maths on pages {raw_tex[:10]}"
    for docname, (start, end) in zip(toc_files(), printed.ranges, strict=True):
        figures = len(re.findall(r'<img [^>]*src="[^"]*_images/', book.page(docname)))
        images = sum(1 for page in printed.reader.pages[start:end]
                     for item in page["/Resources"].get("/XObject", {}).values()
                     if item.get_object().get("/Subtype") == "/Image")
        assert images >= min(figures, 1), f"{docname}: {figures} figures in the HTML, no image in the PDF"


def _font_name(font: dict) -> str:
    descriptor = font.get("/FontDescriptor")
    return str(font.get("/BaseFont") or (descriptor.get_object().get("/FontName") if descriptor else ""))


def test_the_chinese_of_the_glossary_is_printed_with_its_glyphs(printed: PrintedBook) -> None:
    start, end = printed.ranges[toc_files().index("chapters/appendix/glossary")]
    text = "".join("".join(printed.texts[start:end]).split())
    glossary = (ROOT / "chapters" / "appendix" / "glossary.md").read_text(encoding="utf-8")
    terms = {line for line in glossary.splitlines() if CJK.search(line) and not line.startswith(("#", " "))}
    missing = sorted(term for term in terms if "".join(term.split()) not in text)
    assert len(terms) > 50 and not missing, f"Chinese terms missing from the PDF: {missing[:10]}"

    fonts_of_chinese: set[str] = set()

    def note_font(run: str, matrix: object, text_matrix: object, font: dict | None, size: float) -> None:
        if CJK.search(run or ""):
            fonts_of_chinese.add(_font_name(font or {}))

    for page in printed.reader.pages[start:end]:
        page.extract_text(visitor_text=note_font)
    wrong = {name for name in fonts_of_chinese if not CJK_FONTS.search(name)}
    assert fonts_of_chinese and not wrong, f"Chinese drawn in fonts without its glyphs: {sorted(wrong)}"
