"""The Chinese edition: translation catalogues beside the English sources, and the build that applies them.

usage: python .ci/translate.py extract                  # bring locale/zh_CN up to date with the English text
       python .ci/translate.py coverage [--minimum 0.95]  # translated share of every page
       python .ci/translate.py check                       # translations that lost a role or an emphasis
       python .ci/translate.py build [--build-dir _build]  # the Chinese edition, after the book's own build

The English notebooks and pages stay the only source. ``extract`` runs Sphinx's gettext builder over them (no
notebook executes) and ``sphinx-intl update`` merges the messages into ``locale/zh_CN/LC_MESSAGES``, one catalogue
per page: a new paragraph arrives untranslated, a changed one keeps its old translation marked fuzzy (stale), and
a stale translation is never shown: Sphinx uses only entries that are translated and not fuzzy. A message is one
block of MyST source, a paragraph with its roles and maths, a heading, a table cell; code is not translated.

``build`` renders the notebooks that the book's build executed (its execution cache is copied, as for the student
edition), so the Chinese pages show the numbers of the same run: a glue role in a translation, copied from the
English, finds its value through the book's extension ``.ci/translated_glue.py``. The result is
``<build>/html/zh``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml
from babel.messages.catalog import Message
from babel.messages.pofile import read_po
from execute import add_build_dir
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale"
EDITION_FOLDER = "zh"  # of <build>/html, and of <build> for the edition's own Sphinx build
COMMONMARK = MarkdownIt("commonmark")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")  # a MyST role: {name}`content`


def catalogues(locale: Path = LOCALE) -> Path:
    return locale / LANGUAGE / "LC_MESSAGES"


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


def pages(locale: Path = LOCALE) -> Iterator[tuple[Path, list[Message]]]:
    """Each page's catalogue (its path under ``LC_MESSAGES``) with its messages, the header left out."""
    for path in sorted(catalogues(locale).rglob("*.po")):
        with path.open("rb") as file:
            yield path.relative_to(catalogues(locale)), [message for message in read_po(file) if message.id]


def coverage(locale: Path = LOCALE) -> dict[str, tuple[int, int, int]]:
    """Per page (its docname): messages translated and current, messages in all, stale (fuzzy) translations."""
    shares = {}
    for page, messages in pages(locale):
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
            for page, messages in pages(locale) for message in messages
            if message.string and role_targets(message.id) != role_targets(message.string)]


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
            for page, messages in pages(locale) for message in messages
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
    commands.add_parser("extract", help="bring locale/zh_CN up to date with the English text")
    report = commands.add_parser("coverage", help="the translated share of every page")
    report.add_argument("--minimum", type=float, default=0.0, help="fail when a page's share is below this")
    commands.add_parser("check", help="translations that lost or changed a role (a glue key, a citation, a link), or "
                        "whose emphasis shows as asterisks")
    add_build_dir(commands.add_parser("build", help="the Chinese edition, after the book's own build"))
    arguments = parser.parse_args()
    if arguments.command == "extract":
        extract()
        return 0
    if arguments.command == "build":
        return build(arguments.build_dir)
    if arguments.command == "check":
        problems = mismatched_roles() + unrendered_emphasis()
        print("\n".join(problems) or "every translation keeps the roles and the emphasis of its English message")
        return 1 if problems else 0
    failing = 0
    for docname, (current, total, stale) in coverage().items():
        share = current / total if total else 1.0
        failing += share < arguments.minimum or stale > 0
        print(f"{share:7.1%}  {current:5,} of {total:5,}  {stale:3} stale  {docname}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
