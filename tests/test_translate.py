"""The Chinese edition's machinery (.ci/translate.py) on a two-page book: extract, translate, build, glue."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from conftest import ROOT, BuiltBook, script_module, toc_files

translate = script_module(".ci/translate.py")
pytestmark = pytest.mark.slow  # two small Sphinx builds and a kernel: about half a minute

NOTEBOOK = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Vectors\n", "\n",
                                                         "The model scores {glue:text}`acc:.1%` on the test set.\n"]},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
     "source": ["from IPython.display import Markdown\n", "from myst_nb import glue\n",
                "glue('acc', 0.8125, display=False)\n", "glue('verdict', Markdown('*more*'), display=False)\n",
                "glue('words', 'some words', display=False)"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["It learned {glue:md}`verdict`, {glue:text}`words`.\n"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["A sentence nobody translated.\n"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["A sentence whose English changed.\n"]},
]
TRANSLATIONS = {
    "Vectors": "向量",
    "The model scores {glue:text}`acc:.1%` on the test set.": "模型在测试集上得到 {glue:text}`acc:.1%`。",
    "It learned {glue:md}`verdict`, {glue:text}`words`.": "它学到了 {glue:md}`verdict`，{glue:text}`words`。",
    "A sentence whose English changed.": "一个英文已经改动的句子。",
}


def test_a_translation_keeps_glue_keys_and_role_targets_and_may_translate_what_a_role_shows() -> None:
    english = "A {term}`word vector <vector>` scores {glue:text}`acc:.1%` {cite:p}`mikolov2013`."
    assert translate.role_targets(english) == translate.role_targets(
        "{term}`词向量 <vector>` 得到 {glue:text}`acc:.1%` {cite:p}`mikolov2013`。")
    assert translate.role_targets(english) != translate.role_targets(
        "{term}`词向量 <vector>` 得到 {glue:text}`acc:.0%` {cite:p}`mikolov2013`。")  # a changed number format
    assert translate.role_targets(english) != translate.role_targets("词向量得到 {glue:text}`acc:.1%`。")  # lost roles


def test_every_committed_translation_keeps_the_roles_of_its_english_message() -> None:
    assert translate.mismatched_roles() == []


def test_no_emphasis_marker_of_a_translation_shows_as_an_asterisk() -> None:
    assert translate._literal_asterisks("第一部分中的每个向量都是*{term}`静态的 <static embedding>`*：") == 2
    assert translate._literal_asterisks("第一部分中的每个向量都是 *{term}`静态的 <static embedding>`*：") == 0
    assert translate._literal_asterisks("`a*b` 与 $x^*$") == 0
    assert translate.unrendered_emphasis() == []


@pytest.fixture(scope="module")
def two_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page book, built once in English (which fills its execution cache), its catalogues extracted."""
    root = tmp_path_factory.mktemp("book")
    extension = f"sphinx:\n  local_extensions:\n    translated_glue: {ROOT / '.ci'}\n"
    (root / "_config.yml").write_text("title: Two pages\nexecute:\n  execute_notebooks: cache\n" + extension,
                                      encoding="utf-8")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: nb\n", encoding="utf-8")
    (root / "intro.md").write_text("# Two pages\n\nA page without code.\n", encoding="utf-8")
    notebook = {"cells": NOTEBOOK, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (root / "nb.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    jupyter_book = str(Path(sys.executable).with_name("jupyter-book"))
    subprocess.run([jupyter_book, "build", str(root)], check=True, capture_output=True)
    translate.extract(root=root, locale=root / "locale")
    return root


def _translate(root: Path, stale: str) -> None:
    path = translate.catalogues(root / "locale") / "nb.po"
    with path.open("rb") as file:
        catalogue = read_po(file)
    for message in catalogue:
        if message.id in TRANSLATIONS:
            message.string = TRANSLATIONS[message.id]
            if message.id == stale:
                message.flags.add("fuzzy")
    with path.open("wb") as file:
        write_po(file, catalogue)


def test_the_chinese_edition_shows_current_translations_with_the_english_builds_numbers(two_pages: Path) -> None:
    assert translate.coverage(two_pages / "locale") == {"intro": (0, 2, 0), "nb": (0, 5, 0)}
    _translate(two_pages, stale="A sentence whose English changed.")
    assert translate.coverage(two_pages / "locale")["nb"] == (3, 5, 1)
    assert translate.build(two_pages / "_build", root=two_pages, locale=two_pages / "locale") == 0
    page = (two_pages / "_build" / "html" / "zh" / "nb.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert 'lang="zh-CN"' in page
    assert "向量" in text and "模型在测试集上得到 81.2%" in text  # translated, with the English build's number
    assert '它学到了 <em>more</em>，<span class="pasted-text">some words</span>。' in page  # Markdown and text glued
    assert "A sentence nobody translated." in text  # untranslated: English
    assert "A sentence whose English changed." in text and "一个英文已经改动的句子" not in text  # stale: English


def _messages(locale: Path) -> dict[str, set[str]]:
    return {page.as_posix(): {message.id for message in messages} for page, messages in translate.pages(locale)}


def test_the_catalogues_hold_every_message_of_the_english_sources_and_no_other(tmp_path: Path) -> None:
    """When this fails, the English text changed: run `.venv/bin/python .ci/translate.py extract` and commit locale/."""
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    translate.extract(locale=tmp_path / "locale")
    fresh, committed = _messages(tmp_path / "locale"), _messages(ROOT / "locale")
    assert sorted(fresh) == sorted(committed), "pages without a catalogue, or catalogues without a page"
    for page, messages in fresh.items():
        assert messages == committed[page], f"{page}: {len(messages - committed[page])} new or changed messages"


def test_every_page_is_translated_to_at_least_95_percent_and_no_translation_is_stale() -> None:
    """When this fails after `.ci/translate.py extract`, translate the new messages and the fuzzy (stale) ones."""
    for page, (current, total, stale) in translate.coverage().items():
        assert stale == 0, f"{page}: {stale} translations whose English has changed since (fuzzy)"
        assert current >= 0.95 * total, f"{page}: {current} of {total} messages translated"


@pytest.mark.xdist_group("book")
def test_the_books_chinese_edition_builds_without_warnings_and_shows_every_glued_value(book: BuiltBook) -> None:
    assert book.chinese_returncode == 0, book.chinese_log[-3000:]
    assert "WARNING" not in book.chinese_log, [line for line in book.chinese_log.splitlines() if "WARNING" in line][:5]
    for docname in toc_files():
        english = (book.html / f"{docname}.html").read_text(encoding="utf-8")
        chinese = (book.chinese_html / f"{docname}.html").read_text(encoding="utf-8")
        assert 'lang="zh-CN"' in chinese, docname
        assert chinese.count("pasted-text") == english.count("pasted-text"), f"{docname}: a glued value is missing"
