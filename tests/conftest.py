"""Shared test fixtures: paths into the repository and the parsed book configuration."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def toc_files() -> list[str]:
    """Every document listed in _toc.yml, without extension, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def notebooks() -> list[Path]:
    """The book's notebooks, in book order."""
    return [ROOT / f"{name}.ipynb" for name in toc_files() if (ROOT / f"{name}.ipynb").exists()]


class BuiltBook:
    """The HTML book built once per test session (see the ``book`` fixture), with its build log."""

    def __init__(self, output: Path, log: str, returncode: int, seconds: float) -> None:
        self.html = output / "_build" / "html"
        self.doctrees = output / "_build" / ".doctrees"
        self.log, self.returncode, self.seconds = log, returncode, seconds

    def page(self, docname: str) -> str:
        return (self.html / f"{docname}.html").read_text(encoding="utf-8")

    def executed(self, docname: str) -> dict:
        """The notebook as the build executed it, outputs included (nbformat JSON)."""
        path = self.html.parent / "jupyter_execute" / f"{docname}.ipynb"
        return json.loads(path.read_text(encoding="utf-8"))

    def execution_data(self) -> dict[str, dict]:
        with (self.doctrees / "environment.pickle").open("rb") as handle:
            environment = pickle.load(handle)
        return {name: data.get("exec_data") or {} for name, data in environment.nb_metadata.items()}


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """Build the whole book, executing every notebook, with the same flags as `make book`."""
    output = tmp_path_factory.mktemp("book")
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--path-output", str(output),
               "-W", "-n", "--keep-going"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    return BuiltBook(output, result.stdout + result.stderr, result.returncode, time.perf_counter() - started)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 2) -> None:
    """A command-line tool's documented failure: exit status ``code`` and one line on stderr naming the problem."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
