"""A chapter's Colab notebook runs top to bottom in an environment pinned to Colab's own package versions.

The environment holds, at the versions Colab's published list gives, the packages of that list that the book uses,
and a stand-in ``google.colab`` module that the kernel imports at start, as Colab's does; so the notebook's setup
cell takes its Colab branch and installs the book's package (built from this checkout instead of the repository
URL) the way a reader's runtime would. Colab's torch (2.11, CPU wheels on PyTorch's own index) cannot be fetched
here; this machine's CPU build of torch stands in for it. The test then checks that the setup replaced none of
Colab's packages and that every cell ran.

Building the environment takes a few minutes of downloads; it is made once per test session, by the first test
that needs it, on the worker that does not build the book.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, BuiltBook, book_config
from nbclient import NotebookClient
from test_colab import COLAB, colab_versions, pypi_reachable

CHAPTER = "chapters/part3/08_attention"
# Colab's packages that the book's package and chapters use (with what ipykernel needs to run a kernel).
COLAB_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "plotly", "tqdm", "ipython", "ipykernel",
                  "ipywidgets", "jupyter_client", "traitlets", "pyzmq", "tornado", "transformers", "tokenizers",
                  "safetensors", "datasets", "pyarrow", "accelerate", "peft")
TORCH_STAND_IN = "torch==2.13.0"
STUB = '"""A stand-in for Colab\'s google.colab: its presence is what the setup cells test."""\n'
needs_pypi = pytest.mark.skipif(not pypi_reachable(), reason="the Colab-like environment installs from PyPI")


def colab_pins() -> list[str]:
    versions = colab_versions(COLAB / "pip-freeze.txt")
    return [f"{name}=={versions[name.lower()]}" for name in COLAB_PACKAGES]


def installed(python: Path) -> dict[str, str]:
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                             check=True)
    return {item["name"].lower().replace("_", "-"): item["version"] for item in json.loads(listing.stdout)}


@pytest.fixture(scope="session")
def colab_environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with Colab's versions and the google.colab stand-in, shared by the test workers."""
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # workers' folders share this session's folder
        session = session.parent
    folder = session / "colab-environment"
    folder.mkdir(exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = folder / "venv" / "bin" / "python"
        if not (folder / "ready").exists():
            shutil.rmtree(folder / "venv", ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            result = subprocess.run([*pip, TORCH_STAND_IN, *colab_pins()], capture_output=True, text=True,
                                    check=False, timeout=900)
            assert result.returncode == 0, f"cannot build the Colab-like environment:\n{result.stderr[-3000:]}"
            site_packages = next((folder / "venv").glob("lib/python3*/site-packages"))
            (site_packages / "google" / "colab").mkdir(parents=True, exist_ok=True)
            (site_packages / "google" / "colab" / "__init__.py").write_text(STUB)
            startup = folder / "ipython" / "profile_default" / "startup"
            startup.mkdir(parents=True, exist_ok=True)
            (startup / "00-colab.py").write_text("import google.colab  # noqa: F401  (as Colab's kernel does)\n")
            kernel = folder / "jupyter" / "kernels" / "colab-like"
            kernel.mkdir(parents=True, exist_ok=True)
            (kernel / "kernel.json").write_text(json.dumps({
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab-like", "language": "python"}))
            (folder / "ready").touch()
    return folder


@needs_pypi
@pytest.mark.slow
@pytest.mark.xdist_group("colab-environment")
def test_colab_like_environment_has_colab_versions(colab_environment: Path) -> None:
    versions = installed(colab_environment / "venv" / "bin" / "python")
    for pin in colab_pins():
        name, version = pin.split("==")
        assert versions[name.lower().replace("_", "-")] == version, f"{name}: {versions.get(name.lower())}"


@needs_pypi
@pytest.mark.slow
@pytest.mark.xdist_group("book")
def test_a_colab_notebook_runs_top_to_bottom_in_colab_versions(book: BuiltBook, colab_environment: Path,
                                                               tmp_path: Path) -> None:
    config = book_config()
    folder = config["sphinx"]["config"]["html_theme_options"]["path_to_docs"]
    notebook = nbformat.read(book.html / folder / f"{CHAPTER}.ipynb", as_version=4)
    setup = next(cell for cell in notebook.cells if cell.cell_type == "code")
    from_repository = re.search(rf"git\+{re.escape(config['repository']['url'])}@\w+#subdirectory=code", setup.source)
    assert from_repository, setup.source
    source = shutil.copytree(ROOT / "code", tmp_path / "code", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    setup.source = setup.source.replace(from_repository.group(0), source.as_uri())
    python = colab_environment / "venv" / "bin" / "python"
    before = installed(python)
    environment = {**os.environ, "JUPYTER_PATH": str(colab_environment / "jupyter"),
                   "IPYTHONDIR": str(colab_environment / "ipython"), "FROMZERO_CACHE": str(tmp_path / "cache"),
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        NotebookClient(notebook, kernel_name="colab-like", timeout=600,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    after = installed(python)
    assert "fromzero" in after, "the setup cell did not install the book's package"
    replaced = {name: (before[name], after.get(name)) for name in before if after.get(name) != before[name]}
    assert not replaced, f"the setup cell replaced Colab's packages: {replaced}"
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors
