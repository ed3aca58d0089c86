"""The Chinese edition's machinery (.ci/translate.py, .ci/bilingual.py) on a two-page book: extract, translate,
build, glue, link the editions; and the book's own catalogues and Chinese edition."""

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
bilingual = script_module(".ci/bilingual.py")
pytestmark = pytest.mark.slow  # two small Sphinx builds and a kernel: about half a minute

NOTEBOOK = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Vectors\n", "\n",
                                                         "The model scores {glue:text}`acc:.1%` on the test set.\n"]},
    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
     "source": ["from IPython.display import Markdown\n", "from myst_nb import glue\n",
                "glue('acc', 0.8125, display=False)\n", "glue('verdict', Markdown('*more*'), display=False)\n",
                "glue('words', 'some words', display=False)\n", "glue('gain', 'higher by 3.5 points', display=False)"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["It learned {glue:md}`verdict`, {glue:text}`words`, "
                                                         "{glue:text}`gain`.\n"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["A sentence nobody translated.\n"]},
    {"cell_type": "markdown", "metadata": {}, "source": ["A sentence whose English changed.\n"]},
]
TRANSLATIONS = {
    "Part one": "第一部分",
    "Vectors": "向量",
    "The model scores {glue:text}`acc:.1%` on the test set.": "模型在测试集上得到 {glue:text}`acc:.1%`。",
    "It learned {glue:md}`verdict`, {glue:text}`words`, {glue:text}`gain`.":
        "它学到了 {glue:md}`verdict`，{glue:text}`words` 和 {glue:text}`gain`。",
    "A sentence whose English changed.": "一个英文已经改动的句子。",
}
GLUED_TRANSLATIONS = {"*more*": "*更多*", "some words": "一些词", "higher by {0} points": "高出 {0} 分"}


def test_a_translation_keeps_glue_keys_and_role_targets_and_may_translate_what_a_role_shows() -> None:
    english = "A {term}`word vector <vector>` scores {glue:text}`acc:.1%` {cite:p}`mikolov2013`."
    assert translate.role_targets(english) == translate.role_targets(
        "{term}`词向量 <vector>` 得到 {glue:text}`acc:.1%` {cite:p}`mikolov2013`。")
    assert translate.role_targets(english) != translate.role_targets(
        "{term}`词向量 <vector>` 得到 {glue:text}`acc:.0%` {cite:p}`mikolov2013`。")  # a changed number format
    assert translate.role_targets(english) != translate.role_targets("词向量得到 {glue:text}`acc:.1%`。")  # lost roles


def test_every_committed_translation_keeps_the_roles_of_its_english_message_and_the_numbers_of_its_glued_text() -> None:
    assert translate.mismatched_roles() == []
    assert translate.mismatched_placeholders() == []


def test_a_glued_texts_numbers_become_placeholders_and_names_with_digits_stay() -> None:
    text = "higher on WordSim-353 and analogies (3CosAdd) by +0.05 [−0.01, 1,200.5] at η = 0.1 (76 %), GPT-2"
    template, numbers = bilingual.glue_template(text)
    assert template == "higher on WordSim-353 and analogies (3CosAdd) by {0} [{1}, {2}] at η = {3} ({4} %), GPT-2"
    assert numbers == ["+0.05", "−0.01", "1,200.5", "0.1", "76"]
    assert bilingual.fill("在 η = {3} 时高出 {0}", numbers) == "在 η = 0.1 时高出 +0.05"  # any order
    assert bilingual.is_text(template) and not bilingual.is_text(bilingual.glue_template("+0.05 [+0.01, +0.09]")[0])


def test_a_glued_list_of_corpus_words_keeps_its_words_and_takes_chinese_separators() -> None:
    neighbours = "los_angeles, berlin, it's, hotel"
    assert not bilingual.is_text(neighbours)  # nothing to translate, so no catalogue entry
    assert bilingual.translated_text(neighbours, {}) == "los_angeles、berlin、it's、hotel"
    names = "SGNS, CBOW and FastText"  # words to translate ("and"), looked up in the catalogue
    assert bilingual.is_text(names) and bilingual.translated_text(names, {}) is None


def test_a_linked_glossary_term_is_shown_as_the_glossary_renders_it_in_chinese() -> None:
    forms = translate.glossary()
    assert forms["embedding"] == ["嵌入", "词向量"]  # the Chinese lines of the entry, its rendering first
    assert "CRF" in forms["conditional random field"] and "CRF" in forms["crf"]  # an acronym may stay as it is
    assert forms["epoch"] == [forms["epoch"][0]]  # a common noun has only its Chinese rendering
    assert translate.glossary_deviations() == []


def test_no_emphasis_marker_of_a_translation_shows_as_an_asterisk() -> None:
    assert translate._literal_asterisks("第一部分中的每个向量都是*{term}`静态的 <static embedding>`*：") == 2
    assert translate._literal_asterisks("第一部分中的每个向量都是 *{term}`静态的 <static embedding>`*：") == 0
    assert translate._literal_asterisks("`a*b` 与 $x^*$") == 0
    assert translate.unrendered_emphasis() == []


@pytest.fixture(scope="module")
def two_pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page book, built once in English (which fills its execution cache), its catalogues extracted."""
    root = tmp_path_factory.mktemp("book")
    extension = f"sphinx:\n  local_extensions:\n    bilingual: {ROOT / '.ci'}\n"
    (root / "_config.yml").write_text("title: Two pages\nexecute:\n  execute_notebooks: cache\n" + extension,
                                      encoding="utf-8")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nparts:\n  - caption: Part one\n    chapters:\n"
                                   "      - file: nb\n", encoding="utf-8")
    (root / "intro.md").write_text("# Two pages\n\nA page without code.\n", encoding="utf-8")
    notebook = {"cells": NOTEBOOK, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    (root / "nb.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    jupyter_book = str(Path(sys.executable).with_name("jupyter-book"))
    subprocess.run([jupyter_book, "build", str(root)], check=True, capture_output=True)
    translate.extract(root=root, locale=root / "locale")
    translate.extract_glue(root / "_build", locale=root / "locale")
    return root


def _translate(catalogue_path: Path, translations: dict[str, str], stale: str = "") -> None:
    with catalogue_path.open("rb") as file:
        catalogue = read_po(file)
    for message in catalogue:
        if message.id in translations:
            message.string = translations[message.id]
            if message.id == stale:
                message.flags.add("fuzzy")
    with catalogue_path.open("wb") as file:
        write_po(file, catalogue)


def test_the_chinese_edition_shows_current_translations_with_the_english_builds_numbers(two_pages: Path) -> None:
    locale = two_pages / "locale"
    assert translate.coverage(translate.catalogues(locale)) == {"intro": (0, 3, 0), "nb": (0, 5, 0)}
    assert translate.coverage(translate.glue_catalogues(locale)) == {"nb": (0, 3, 0)}  # the three glued texts
    _translate(translate.catalogues(locale) / "intro.po", TRANSLATIONS)
    _translate(translate.catalogues(locale) / "nb.po", TRANSLATIONS, stale="A sentence whose English changed.")
    _translate(translate.glue_catalogues(locale) / "nb.po", GLUED_TRANSLATIONS)
    assert translate.coverage(translate.catalogues(locale))["nb"] == (3, 5, 1)
    assert translate.coverage(translate.glue_catalogues(locale))["nb"] == (3, 3, 0)
    assert translate.build(two_pages / "_build", root=two_pages, locale=locale) == 0
    page = (two_pages / "_build" / "html" / "zh" / "nb.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert 'lang="zh-CN"' in page
    assert "向量" in text and "模型在测试集上得到 81.2%" in text  # translated, with the English build's number
    glued = ('它学到了 <em>更多</em>，<span class="pasted-text">一些词</span>和'
             '<span class="pasted-text">高出 3.5 分</span>。')
    assert glued in page  # glued Markdown and text in Chinese, the number from the run, no space between Chinese
    assert "A sentence nobody translated." in text  # untranslated: English
    assert "A sentence whose English changed." in text and "一个英文已经改动的句子" not in text  # stale: English
    assert 'caption-text">第一部分<' in page  # the part caption of the table of contents
    english = (two_pages / "_build" / "html" / "nb.html").read_text(encoding="utf-8")
    assert '<a href="zh/nb.html" hreflang="zh-CN" lang="zh-CN">中文</a>' in english  # each page links the other
    assert '<a href="../nb.html" hreflang="en" lang="en">English</a>' in page


def _messages(locale: Path) -> dict[str, set[str]]:
    return {page.as_posix(): {message.id for message in messages}
            for page, messages in translate.pages(translate.catalogues(locale))}


def test_the_catalogues_hold_every_message_of_the_english_sources_and_no_other(tmp_path: Path) -> None:
    """When this fails, the English text changed: run `.venv/bin/python .ci/translate.py extract` and commit locale/."""
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    translate.extract(locale=tmp_path / "locale")
    fresh, committed = _messages(tmp_path / "locale"), _messages(ROOT / "locale")
    assert sorted(fresh) == sorted(committed), "pages without a catalogue, or catalogues without a page"
    for page, messages in fresh.items():
        assert messages == committed[page], f"{page}: {len(messages - committed[page])} new or changed messages"


def test_every_page_is_translated_to_at_least_95_percent_and_no_translation_is_stale() -> None:
    """When this fails after `.ci/translate.py extract`, translate the new messages and the fuzzy (stale) ones: of
    the page catalogues (the text) and of the glue catalogues (the text that the notebooks glue)."""
    for folder in (translate.catalogues(), translate.glue_catalogues()):
        for page, (current, total, stale) in translate.coverage(folder).items():
            assert stale == 0, f"{folder.name}/{page}: {stale} translations whose English has changed since (fuzzy)"
            assert current >= 0.95 * total, f"{folder.name}/{page}: {current} of {total} messages translated"


@pytest.mark.xdist_group("book")
def test_the_books_chinese_edition_builds_without_warnings_and_shows_every_glued_value(book: BuiltBook) -> None:
    assert book.chinese_returncode == 0, book.chinese_log[-3000:]
    assert "WARNING" not in book.chinese_log, [line for line in book.chinese_log.splitlines() if "WARNING" in line][:5]
    for docname in toc_files():
        english = (book.html / f"{docname}.html").read_text(encoding="utf-8")
        chinese = (book.chinese_html / f"{docname}.html").read_text(encoding="utf-8")
        assert 'lang="zh-CN"' in chinese, docname
        assert chinese.count("pasted-text") == english.count("pasted-text"), f"{docname}: a glued value is missing"
        up = "../" * docname.count("/")
        assert f'<a href="{up}zh/{docname}.html" hreflang="zh-CN"' in english, f"{docname}: no link to its Chinese"
        assert f'<a href="../{up}{docname}.html" hreflang="en"' in chinese, f"{docname}: no link to its English"


@pytest.mark.xdist_group("book")
def test_the_text_that_the_books_run_glues_is_translated(book: BuiltBook) -> None:
    """When this fails, run `.ci/translate.py extract` after `make book` and translate the new glued text.

    Counted over the whole book: some results vary from run to run (a multithreaded training run differs in its
    last bits, and a verdict that lists the models beating a baseline may gain or lose a name), so a run may
    glue a text that no run before it glued; the catalogues keep every variant seen so far."""
    missing, total = [], 0
    for docname, texts in translate.glued_texts(book.html.parent).items():
        translations = bilingual.glue_translations(str(ROOT / "locale"), translate.LANGUAGE, docname)
        missing += [f"{docname}: {text}" for text in texts if text not in translations]
        total += len(texts)
    assert len(missing) <= 0.05 * total, f"{len(missing)} of {total} glued texts have no translation: {missing}"
