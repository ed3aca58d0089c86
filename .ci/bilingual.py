"""A Sphinx extension of the book: what its two editions, English and Chinese, need beyond Sphinx's translation.

- **Glue roles in a translated paragraph.** Sphinx applies a translation by parsing the translated paragraph as a
  small document of its own, after the page itself was parsed. myst-nb's glue roles look their values up through
  the notebook renderer that the page's parser attaches to the document being parsed; the small document has none,
  so every ``{glue:text}`` and ``{glue:md}`` of a translation would fail. The extension keeps the renderer of the
  page last parsed (a role in the page's English text has just used it: a translation keeps the roles of its
  English message, ``.ci/translate.py check``) and lends it to the glue roles of that page's translations. A role
  with a notebook path (``other.ipynb::key``) does not come here.
- **Glued text in Chinese.** A notebook glues some results as words (``"indistinguishable from"``, a sentence
  that reports a comparison). In the Chinese edition such a value is looked up in the page's glue catalogue,
  ``locale/<language>/glue/<docname>.po``, whose messages are the run's values with each number replaced by a
  placeholder (:func:`glue_template`): the numbers still come from the run, only the words are translated. A value
  without a current translation shows in English. ``.ci/translate.py extract`` writes these catalogues from a
  built book.
- **No space between Chinese words.** The translations write a space on each side of a glue role, right for a
  number or a Latin word; where the value glued in Chinese starts or ends with a Chinese character next to
  another, the space goes.
- **Part captions.** The table of contents' part captions are translated like the page text (the root page's
  catalogue holds them), but the toctree that carries them is added after Sphinx translated the page; the
  extension translates them when the page has been read.
- **A switch between the editions.** Every page links to the same page in the other language (the Chinese edition
  is built into ``zh/`` of the English one, ``.ci/translate.py build``); the student edition has no Chinese
  counterpart and no link.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from docutils import nodes
from myst_nb.core.variables import VariableOutput
from myst_nb.ext.glue import directives, roles, utils
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain
from sphinx_book import student_edition

EDITION_FOLDER = "zh"  # the Chinese edition's folder inside the English edition's HTML
GLUE_FOLDER = "glue"  # beside LC_MESSAGES: the catalogues of glued text
NUMBER = re.compile(r"(?<![\w.\-−])[-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(?!\w)")
PLACEHOLDER = re.compile(r"\{(\d+)\}")
WORD_LIST = re.compile(r"[a-z][a-z_']*(?:, [a-z][a-z_']*)+")  # corpus words, e.g. a word's nearest neighbours
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # characters and full-width punctuation
SWITCH_STYLE = ("<style>.language-switch{text-align:right;font-size:.9em}"
                "@media print{.language-switch{display:none}}</style>")

_last_page: dict[str, Any] = {}  # the docname and notebook renderer of the page whose glue roles were read last


def glue_template(text: str) -> tuple[str, list[str]]:
    """``text`` with its numbers replaced by ``{0}``, ``{1}`` …, and the numbers: what a translation is keyed on,
    so that it still holds when a rerun changes the numbers (``WordSim-353`` and ``3CosAdd`` are names, kept)."""
    numbers = NUMBER.findall(text)
    counter = itertools.count()
    return NUMBER.sub(lambda _: f"{{{next(counter)}}}", text), numbers


def fill(template: str, numbers: list[str]) -> str:
    """The inverse of :func:`glue_template`, for a translated template whose placeholders may come in any order."""
    return PLACEHOLDER.sub(lambda match: numbers[int(match[1])], template)


def is_text(template: str) -> bool:
    """Whether a glued value is words to translate rather than a number, a symbol or a list of corpus words."""
    return re.search(r"[A-Za-z]{2}", template) is not None and not WORD_LIST.fullmatch(template)


@functools.cache
def glue_translations(locale_dir: str, language: str, docname: str) -> dict[str, str]:
    """The current (translated, not fuzzy) entries of a page's glue catalogue, template to translation."""
    path = Path(locale_dir) / language / GLUE_FOLDER / f"{docname}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        catalogue = read_po(file)
    # An obsolete entry is text that the run which extracted the catalogue did not glue: a comparison's other outcome.
    return {message.id: message.string for message in [*catalogue, *catalogue.obsolete.values()]
            if message.id and message.string and not message.fuzzy}


def translated_text(text: str, translations: dict[str, str]) -> str | None:
    """``text`` in Chinese, from the page's glue catalogue; a list of corpus words keeps its words, listed with 、."""
    if WORD_LIST.fullmatch(text):
        return "、".join(text.split(", "))
    template, numbers = glue_template(text)
    translation = translations.get(template)
    return None if translation is None else fill(translation, numbers)


def translated_output(output: VariableOutput, translations: dict[str, str]) -> VariableOutput:
    """``output`` with its plain text (a Python string's repr) and its Markdown translated where the catalogue can."""
    data = dict(output.data)
    if isinstance(data.get("text/markdown"), str):
        data["text/markdown"] = translated_text(data["text/markdown"], translations) or data["text/markdown"]
    try:
        value = ast.literal_eval(data.get("text/plain", ""))
    except (SyntaxError, ValueError):
        value = None
    if isinstance(value, str) and (translation := translated_text(value, translations)) is not None:
        data["text/plain"] = repr(translation)
    return VariableOutput(data, output.metadata, output.nb_renderer, output.vtype, output.index)


def _page_translations(document: nodes.document) -> dict[str, str]:
    env = document.settings.env
    if not _chinese_edition(env.config):
        return {}
    found: dict[str, str] = {}
    for directory in env.config.locale_dirs:
        found |= glue_translations(str(Path(env.srcdir, directory)), env.config.language, env.docname)
    return found


def _retrieve(document: nodes.document, key: str) -> VariableOutput:
    docname = document.settings.env.docname
    if "nb_renderer" in document:
        _last_page.update(docname=docname, renderer=document["nb_renderer"])
        return utils.retrieve_glue_data(document, key)
    if _last_page.get("docname") != docname:
        return utils.retrieve_glue_data(document, key)  # raises myst-nb's own error
    document["nb_renderer"] = _last_page["renderer"]
    try:
        return utils.retrieve_glue_data(document, key)
    finally:
        del document["nb_renderer"]


def retrieve_glue_data(document: nodes.document, key: str) -> VariableOutput:
    """myst-nb's lookup; a translated paragraph borrows its page's renderer, and a Chinese page gets Chinese text."""
    output = _retrieve(document, key)
    translations = _page_translations(document)
    return translated_output(output, translations) if translations else output


def _chinese_edition(config: Config) -> bool:
    return bool(config.language) and config.language.startswith("zh")


def close_up_glued_chinese(app: Sphinx, doctree: nodes.document) -> None:
    """Drop the space between a Chinese character and a glued text that starts or ends with one."""
    if not _chinese_edition(app.config):
        return
    for glued in list(doctree.findall(nodes.inline)):
        text = glued.astext()
        if "pasted-text" not in glued["classes"] or not text:
            continue
        before, after = glued.previous_sibling(), glued.next_node(descend=False, siblings=True)
        if CHINESE.match(text[0]) and isinstance(before, nodes.Text) and re.search(f"{CHINESE.pattern} $", before):
            before.parent.replace(before, nodes.Text(before[:-1]))
        if CHINESE.match(text[-1]) and isinstance(after, nodes.Text) and re.match(f" {CHINESE.pattern}", after):
            after.parent.replace(after, nodes.Text(after[1:]))


def translate_captions(app: Sphinx, doctree: nodes.document) -> None:
    """Translate the part captions of the toctrees in a page, from the page's own catalogue."""
    config = app.config
    if not _chinese_edition(config):
        return
    directories = [str(Path(app.srcdir, directory)) for directory in config.locale_dirs]
    domain = docname_to_domain(app.env.docname, config.gettext_compact)
    catalogue, found = init_locale(directories, config.language, domain)
    if not found:
        return
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = catalogue.gettext(toctree["caption"])


def language_switch(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """A link at the top of every page to the same page in the other edition, and its ``hreflang`` alternate."""
    if doctree is None or student_edition():
        return
    up = "../" * pagename.count("/")
    if _chinese_edition(app.config):
        href, language, label = f"../{up}{pagename}.html", "en", "English"
    else:
        href, language, label = f"{up}{EDITION_FOLDER}/{pagename}.html", "zh-CN", "中文"
    context["body"] = (f'<p class="language-switch"><a href="{href}" hreflang="{language}" lang="{language}">'
                       f"{label}</a></p>\n" + context.get("body", ""))
    context["metatags"] = (context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{language}" '
                           f'href="{href}">\n{SWITCH_STYLE}')


def setup(app: Sphinx) -> dict[str, Any]:
    roles.retrieve_glue_data = retrieve_glue_data
    directives.retrieve_glue_data = retrieve_glue_data
    app.connect("doctree-read", translate_captions)
    app.connect("doctree-read", close_up_glued_chinese)
    app.connect("html-page-context", language_switch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
