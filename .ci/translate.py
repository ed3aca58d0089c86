"""The Chinese edition: translation catalogues beside the English sources, and the build that applies them.

usage: python .ci/translate.py extract [--build-dir _build]  # bring locale/zh_CN up to date with the English text
       python .ci/translate.py coverage [--minimum 0.95]     # translated share of every page
       python .ci/translate.py check                          # translations that lost a role, a number or emphasis
       python .ci/translate.py build [--build-dir _build]     # the Chinese edition, after the book's own build

The English notebooks and pages stay the only source. ``extract`` runs Sphinx's gettext builder over them (no
notebook executes) and ``sphinx-intl update`` merges the messages into ``locale/zh_CN/LC_MESSAGES``, one catalogue
per page: a new paragraph arrives untranslated, a changed one keeps its old translation marked fuzzy (stale), and
a stale translation is never shown: Sphinx uses only entries that are translated and not fuzzy. A message is one
block of MyST source, a paragraph with its roles and maths, a heading, a table cell; code is not translated.
From a built book, ``extract`` also writes ``locale/zh_CN/glue``: per notebook, the text its run glues (a verdict
such as "indistinguishable from"), each number a placeholder, so that the Chinese pages say it in Chinese.

``build`` renders the notebooks that the book's build executed (its execution cache is copied, as for the student
edition), so the Chinese pages show the numbers of the same run: a glue role in a translation, copied from the
English, finds its value, in Chinese where it is text, through the book's extension ``.ci/bilingual.py``. The
result is ``<build>/html/zh``, each page linked to its English page and back.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po
from bilingual import CHINESE, EDITION_FOLDER, GLUE_FOLDER, PLACEHOLDER, glue_template, is_text
from execute import add_build_dir
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale"
COMMONMARK = MarkdownIt("commonmark")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")  # a MyST role: {name}`content`


def catalogues(locale: Path = LOCALE) -> Path:
    """The folder of the page catalogues: one per page, its prose."""
    return locale / LANGUAGE / "LC_MESSAGES"


def glue_catalogues(locale: Path = LOCALE) -> Path:
    """The folder of the glue catalogues: one per notebook, the text its run glues (``.ci/bilingual.py``)."""
    return locale / LANGUAGE / GLUE_FOLDER


def config_with(root: Path, changes: dict, folder: Path) -> Path:
    """A copy of the book's ``_config.yml`` with ``changes`` merged into it, written in ``folder``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    _merge(config, changes)
    if "local_extensions" in config.get("sphinx", {}):  # their folders are relative to the book, not to this copy
        config["sphinx"]["local_extensions"] = {
            name: str((root / path).resolve()) for name, path in config["sphinx"]["local_extensions"].items()}
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _merge(base: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _jupyter_book() -> str:
    return str(Path(sys.executable).with_name("jupyter-book"))


def extract(root: Path = ROOT, locale: Path = LOCALE) -> None:
    """Bring the catalogues in ``locale`` up to date with the English sources of the book at ``root``."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config = config_with(root, {"execute": {"execute_notebooks": "off"},
                                    "sphinx": {"config": {"gettext_compact": False}}}, folder)
        command = [_jupyter_book(), "build", str(root), "--config", str(config), "--path-output", str(folder),
                   "--builder", "custom", "--custom-builder", "gettext"]
        subprocess.run(command, check=True, capture_output=True, text=True)
        templates = folder / "_build" / "gettext"
        update = [sys.executable, "-m", "sphinx_intl", "update", "-p", str(templates), "-d", str(locale),
                  "-l", LANGUAGE, "-w", "0"]
        subprocess.run(update, check=True, capture_output=True, text=True)


def glued_texts(build_dir: Path, locale: Path = LOCALE) -> dict[str, dict[str, set[str]]]:
    """Per page, the templates (:func:`bilingual.glue_template`) of the text values that its glue roles show in
    the build at ``build_dir``, each with the keys that glue it."""
    executed = build_dir / "jupyter_execute"
    texts: dict[str, dict[str, set[str]]] = {}
    for page, messages in pages(catalogues(locale)):
        glue_file = executed / page.with_suffix(".glue.json")
        if not glue_file.is_file():
            continue
        keys = {content.split(":")[0] for message in messages for name, content in ROLE.findall(message.id)
                if name.startswith("glue") and "::" not in content}
        values = glued_values(glue_file)
        for key in sorted(keys & values.keys()):
            template = glue_template(values[key])[0]
            if is_text(template):
                texts.setdefault(page.with_suffix("").as_posix(), {}).setdefault(template, set()).add(key)
    return texts


def glued_values(glue_file: Path) -> dict[str, str]:
    """What each glue of an executed notebook shows as text (its Markdown, or the string that its plain text is),
    from the ``<notebook>.glue.json`` that myst-nb writes beside the executed notebook."""
    values = {}
    for key, output in json.loads(glue_file.read_text(encoding="utf-8")).items():
        data = output["data"]
        if "text/markdown" in data:
            values[key] = data["text/markdown"]
            continue
        try:
            value = ast.literal_eval(data.get("text/plain", ""))
        except (SyntaxError, ValueError):
            continue
        if isinstance(value, str):
            values[key] = value
    return values


def extract_glue(build_dir: Path, locale: Path = LOCALE) -> None:
    """Bring the glue catalogues in ``locale`` up to date with the glued text of the build at ``build_dir``: a new
    text arrives untranslated, a changed one keeps its old translation marked fuzzy, one no longer glued is kept
    as obsolete (a comparison's other outcome, say) and returns with its translation if a later run glues it."""
    for docname, texts in glued_texts(build_dir, locale).items():
        template = Catalog(locale=LANGUAGE)
        for text, keys in texts.items():
            template.add(text, auto_comments=[f"glued as {', '.join(sorted(keys))}"])
        path = glue_catalogues(locale) / f"{docname}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        catalogue = Catalog(locale=LANGUAGE)
        if path.is_file():
            with path.open("rb") as file:
                catalogue = read_po(file, locale=LANGUAGE)
        for text, message in list(catalogue.obsolete.items()):
            if text in template:
                catalogue[text] = message
        catalogue.update(template)
        with path.open("wb") as file:
            write_po(file, catalogue, width=0, omit_header=True)


def pages(folder: Path | None = None) -> Iterator[tuple[Path, list[Message]]]:
    """Each page's catalogue in ``folder`` (its path there) with its messages, the header left out; the page
    catalogues unless told otherwise."""
    folder = folder or catalogues()
    for path in sorted(folder.rglob("*.po")):
        with path.open("rb") as file:
            yield path.relative_to(folder), [message for message in read_po(file) if message.id]


def coverage(folder: Path | None = None) -> dict[str, tuple[int, int, int]]:
    """Per page (its docname): messages translated and current, messages in all, stale (fuzzy) translations."""
    shares = {}
    for page, messages in pages(folder):
        current = sum(bool(message.string) and not message.fuzzy for message in messages)
        stale = sum(bool(message.string) and message.fuzzy for message in messages)
        shares[page.with_suffix("").as_posix()] = (current, len(messages), stale)
    return shares


def role_targets(text: str) -> list[str]:
    """The roles of ``text`` as ``{name}target``, sorted: what a translation must keep. A glue role keeps its whole
    content (key and format); a role with a ``display <target>`` form keeps only its target, its display text being
    free to translate (``{term}`词嵌入 <embedding>``` for ``{term}`embedding```)."""
    targets = []
    for name, content in ROLE.findall(text):
        shown = re.fullmatch(r"(?s).*<([^<>]+)>", content)
        targets.append(f"{{{name}}}{content if name.startswith('glue') or not shown else shown[1]}")
    return sorted(targets)


def mismatched_roles(locale: Path = LOCALE) -> list[str]:
    """Translations whose roles differ from their English message's: a changed glue key or format, a lost citation."""
    return [f"{page}: {message.id[:60]!r}: {role_targets(message.id)} became {role_targets(message.string)}"
            for page, messages in pages(catalogues(locale)) for message in messages
            if message.string and role_targets(message.id) != role_targets(message.string)]


def mismatched_placeholders(locale: Path = LOCALE) -> list[str]:
    """Glued-text translations that lost, added or renumbered a number's placeholder."""
    return [f"glue/{page}: {message.id[:60]!r}: the placeholders {placeholders(message.id)} became "
            f"{placeholders(message.string)}"
            for page, messages in pages(glue_catalogues(locale)) for message in messages
            if message.string and placeholders(message.id) != placeholders(message.string)]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def glossary(root: Path = ROOT) -> dict[str, list[str]]:
    """Each glossary term, in lower case, with the forms a Chinese page may show it in: the entry's Chinese
    rendering (its second line), any other Chinese line, and, for a name or an acronym (GloVe, BERT, CRF), its
    English lines."""
    text = (root / "chapters" / "appendix" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    forms: dict[str, list[str]] = {}
    for entry in re.split(r"\n\s*\n", block.strip()):
        english, chinese, *synonyms = [line for line in entry.splitlines() if line and not line.startswith(" ")]
        names = [english] + [line for line in synonyms if not CHINESE.search(line)]
        accepted = ([chinese] + [line for line in synonyms if CHINESE.search(line)]
                    + [name for name in names if re.search(r"[A-Z0-9]", name)])
        forms |= {name.lower(): accepted for name in names}
    return forms


def term_roles(text: str) -> list[tuple[str, str]]:
    """The ``{term}`` roles of ``text`` as (what the role shows, the glossary term it links)."""
    roles = []
    for name, content in ROLE.findall(text):
        if name == "term":
            shown = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content)
            roles.append((shown[1], shown[2]) if shown else (content, content))
    return roles


def glossary_deviations(locale: Path = LOCALE, root: Path = ROOT) -> list[str]:
    """Translations that link a glossary term under another name than the glossary's Chinese rendering. Only a
    link whose English shows the whole term is held to it: one that shows part of it (``{term}`window <context
    window>``) may show the same part in Chinese."""
    forms = glossary(root)
    deviations = []
    for page, messages in pages(catalogues(locale)):
        for message in messages:
            shown_in_english = {target.lower(): shown for shown, target in term_roles(message.id)}
            for shown, target in term_roles(message.string) if message.string else []:
                english = shown_in_english.get(target.lower(), "").lower()
                whole = english.rstrip("s") == target.lower().rstrip("s") or english == f"{target.lower()}es"
                if whole and not any(form.lower() in shown.lower() for form in forms[target.lower()]):
                    deviations.append(f"{page}: {{term}}`{shown} <{target}>` should show {forms[target.lower()][0]}")
    return deviations


def _literal_asterisks(markdown: str) -> int:
    """Asterisks left as text once ``markdown`` is rendered: emphasis markers that did not take (maths and code
    aside). CommonMark ignores a marker squeezed between a Chinese character and punctuation, ``是*{term}...*``."""
    html = COMMONMARK.render(markdown)
    html = re.sub(r"(?s)<code>.*?</code>", "", html)
    return re.sub(r"\$[^$]*\$", "", html).count("*")


def unrendered_emphasis(locale: Path = LOCALE) -> list[str]:
    """Translations that show an emphasis marker as a literal asterisk where their English message does not."""
    return [f"{page}: {message.string[:70]!r}: an asterisk shows; put a space between the marker and the Chinese "
            "character next to it"
            for folder in (catalogues(locale), glue_catalogues(locale))
            for page, messages in pages(folder) for message in messages
            if message.string and _literal_asterisks(message.string) > _literal_asterisks(message.id)]


def build(build_dir: Path, root: Path = ROOT, locale: Path = LOCALE) -> int:
    """Build the Chinese edition from the execution cache of the book's build in ``build_dir``."""
    cache = build_dir / ".jupyter_cache"
    if not cache.is_dir():
        print(f"error: no execution cache in {build_dir}: build the book first (make book)", file=sys.stderr)
        return 1
    edition = build_dir / EDITION_FOLDER
    shutil.rmtree(edition, ignore_errors=True)
    shutil.copytree(cache, edition / "_build" / ".jupyter_cache")
    shutil.copytree(locale, edition / "locale")  # Sphinx writes the compiled catalogues beside them
    config = config_with(root, {"sphinx": {"config": {"language": LANGUAGE, "gettext_compact": False,
                                                      "locale_dirs": [str((edition / "locale").resolve())]}}},
                         edition)
    command = [_jupyter_book(), "build", str(root), "--config", str(config), "--path-output", str(edition),
               "-W", "-n", "--keep-going"]
    result = subprocess.run(command, check=False)
    if result.returncode == 0:
        shutil.rmtree(build_dir / "html" / EDITION_FOLDER, ignore_errors=True)
        shutil.copytree(edition / "_build" / "html", build_dir / "html" / EDITION_FOLDER)
    return result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_build_dir(commands.add_parser("extract", help="bring locale/zh_CN up to date with the English text and, "
                                      "from a built book, with the text its notebooks glue"))
    report = commands.add_parser("coverage", help="the translated share of every page")
    report.add_argument("--minimum", type=float, default=0.0, help="fail when a page's share is below this")
    commands.add_parser("check", help="translations that lost or changed a role (a glue key, a citation, a link) or a "
                        "number, whose emphasis shows as asterisks, or that name a glossary term otherwise")
    add_build_dir(commands.add_parser("build", help="the Chinese edition, after the book's own build"))
    arguments = parser.parse_args()
    if arguments.command == "extract":
        extract()
        if not (arguments.build_dir / "jupyter_execute").is_dir():
            print(f"the glue catalogues are unchanged: {arguments.build_dir} has no executed notebooks (make book)")
            return 0
        extract_glue(arguments.build_dir)
        return 0
    if arguments.command == "build":
        return build(arguments.build_dir)
    if arguments.command == "check":
        problems = mismatched_roles() + mismatched_placeholders() + unrendered_emphasis() + glossary_deviations()
        print("\n".join(problems) or "every translation keeps the roles, numbers and emphasis of its English message, "
              "and names each glossary term as the glossary does")
        return 1 if problems else 0
    failing = 0
    for kind, folder in (("text", catalogues()), ("glued text", glue_catalogues())):
        for docname, (current, total, stale) in coverage(folder).items():
            share = current / total if total else 1.0
            failing += share < arguments.minimum or stale > 0
            print(f"{share:7.1%}  {current:5,} of {total:5,}  {stale:3} stale  {kind:10}  {docname}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
