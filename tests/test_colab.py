"""Colab's runtime stays intact: what the setup cells install resolves against Colab's own package list.

Colab pins IPython 7.34 through its `google-colab` package and ships its own torch; a setup cell whose requirements
force pip to replace either breaks the runtime until a factory reset (or makes pip refuse the install). The lists of
what Colab ships are vendored in `tests/colab/` (see its README). The check asks pip itself, in a dry run against
PyPI: Colab's versions are constraints, and a stub says that torch is already installed, as it is in Colab (its CPU
build comes from PyTorch's own index, whose CUDA-free wheels PyPI does not have). It resolves for this machine's
Python rather than Colab's 3.13, because one requirement (seqeval) is published as source only, which pip cannot
prepare for another Python; the packages that matter have wheels for both.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, notebooks
from test_config import declared_data, first_code_cell

COLAB = ROOT / "tests" / "colab"
KEPT = ("torch", "ipython", "ipywidgets", "numpy", "pandas", "transformers", "tokenizers")
PINNED_URL = re.compile(r"^(?P<name>[\w.-]+) @ \S*/(?P=name)-(?P<version>[\d.]+)(?:%2B|\+)\w+-")


def colab_versions(freeze: Path) -> dict[str, str]:
    """Package name (lower case) -> public version (``2.11.0+cu128`` -> ``2.11.0``), from a `pip freeze` list."""
    versions = {}
    for line in freeze.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            versions[name.strip().lower()] = version.strip().split("+")[0]
        elif match := PINNED_URL.match(line):
            versions[match["name"].lower()] = match["version"]
    return versions


def test_colab_lists_parse_with_the_packages_the_book_must_keep() -> None:
    for freeze in ("pip-freeze.txt", "pip-freeze.gpu.txt"):
        versions = colab_versions(COLAB / freeze)
        assert all(name in versions for name in KEPT), freeze
        assert versions["ipython"] == "7.34.0" and versions["torch"] == "2.11.0"


@pytest.mark.parametrize("notebook", notebooks(), ids=lambda path: path.stem)
def test_data_packages_replace_nothing_colab_has(notebook: Path) -> None:
    # Installed with --no-deps, a data package adds itself only; it must not be one of Colab's own packages.
    versions = colab_versions(COLAB / "pip-freeze.txt")
    for requirement in declared_data(first_code_cell(notebook)):
        assert requirement.split("==")[0].lower() not in versions, f"{notebook.name}: {requirement} is Colab's own"


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def fromzero_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: setuptools writes a build/ folder next to the sources it builds.
    folder = tmp_path_factory.mktemp("wheel")
    source = shutil.copytree(ROOT / "code", folder / "code", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", str(source)]
    subprocess.run([*pip, "-w", str(folder)], check=True, capture_output=True)
    return next(folder.glob("fromzero-*.whl"))


def colab_like_environment(folder: Path, torch_version: str) -> Path:
    """An empty virtual environment in which torch counts as installed (a stub of its metadata), as in Colab."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site_packages = next(folder.glob("lib/python3*/site-packages"))
    info = site_packages / f"torch-{torch_version}+cpu.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {torch_version}+cpu\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    return folder / "bin" / "python"


@pytest.mark.skipif(not pypi_reachable(), reason="resolving against Colab's packages asks PyPI, which is unreachable")
@pytest.mark.parametrize("freeze", ["pip-freeze.txt", "pip-freeze.gpu.txt"])
def test_the_book_package_resolves_against_colab_replacing_none_of_its_packages(
    freeze: str, fromzero_wheel: Path, tmp_path: Path
) -> None:
    versions = colab_versions(COLAB / freeze)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in versions.items()))
    python = colab_like_environment(tmp_path / "venv", versions["torch"])
    report = tmp_path / "report.json"
    certificates = Path("/etc/ssl/certs/ca-certificates.crt")
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated", "--dry-run", "--quiet",
               "--report", str(report), "--index-url", "https://pypi.org/simple", "-c", str(constraints),
               *(["--cert", str(certificates)] if certificates.is_file() else []),
               f"fromzero[book] @ {fromzero_wheel.as_uri()}"]
    resolved = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert resolved.returncode == 0, f"pip cannot install the book's package on Colab:\n{resolved.stderr[-3000:]}"
    installs = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    assert "torch" not in installs, "the install would replace Colab's torch"
    changed = {name: installs[name] for name in KEPT if name in installs and installs[name] != versions[name]}
    assert not changed, f"the install would replace Colab's {changed}"
    assert installs["fromzero"] == "0.1.0" and "gensim" in installs  # what Colab lacks is installed
