"""Shared test fixtures: paths into the repository and the parsed book configuration."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def colab_url(docname: str) -> str:
    """A page's Colab launch link: its generated notebook (.ci/colab.py) on the published branch (_config.yml)."""
    config = book_config()
    owner_and_name = config["repository"]["url"].removeprefix("https://github.com/")
    options = config["sphinx"]["config"]["html_theme_options"]
    return (f"https://colab.research.google.com/github/{owner_and_name}/blob/{options['repository_branch']}/"
            f"{options['path_to_docs']}/{docname}.ipynb")


def script_module(path: str) -> ModuleType:
    """A script of the repository (``.ci/execute.py``) imported as a module, so that tests use its functions."""
    name = "script_" + re.sub(r"\W", "_", path.removesuffix(".py"))
    if name not in sys.modules:  # registered before it runs: its dataclasses look their module up
        folder = str((ROOT / path).parent)  # as for a script run by path, its folder's modules import by name
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(name, ROOT / path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def toc_files() -> list[str]:
    """Every document of _toc.yml, without extension, in book order (read where the build reads it)."""
    return script_module(".ci/execute.py").toc_files()


def cells_with_solution_flag(path: Path) -> list[tuple[dict, bool]]:
    """Each cell of a notebook, with whether it lies in a gated solution (its ``solution-start`` and
    ``solution-end`` cells included)."""
    flagged, inside = [], False
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        inside = inside or "{solution-start}" in source
        flagged.append((cell, inside))
        inside = inside and "{solution-end}" not in source
    return flagged


def notebooks() -> list[Path]:
    """The book's notebooks, in book order."""
    return script_module(".ci/execute.py").book_notebooks()


class BuiltBook:
    """The HTML book built once per test session (see the ``book`` fixture), with its build log."""

    def __init__(self, output: Path, log: str, returncode: int, seconds: float, student_log: str = "",
                 student_returncode: int = 0) -> None:
        self.html = output / "_build" / "html"
        self.doctrees = output / "_build" / ".doctrees"
        self.log, self.returncode, self.seconds = log, returncode, seconds
        self.student_html = output / "_build" / "student" / "_build" / "html"  # .ci/student.py
        self.student_log, self.student_returncode = student_log, student_returncode
        self.chinese_html = self.html / "zh"  # .ci/translate.py build
        self.chinese_log, self.chinese_returncode = "", 0

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


_NICED = []


@pytest.fixture(autouse=True)
def _leave_the_cores_to_the_book(request: pytest.FixtureRequest) -> None:
    """Under xdist, a worker that runs the other tests lowers its priority (once: it cannot be raised again).

    The book build times every notebook against the 5-minute limit of a 2-core machine; the unit tests
    running beside it on the other worker then take only the CPU the notebooks leave idle, instead of
    stretching their run times by a third.
    """
    group = request.node.get_closest_marker("xdist_group")
    timed = group is not None and group.args[0] in ("book", "jupyterlab")  # the build, and a browser with deadlines
    if os.environ.get("PYTEST_XDIST_WORKER") and not _NICED and not timed:
        os.nice(10)
        _NICED.append(True)


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> BuiltBook:
    """Build the whole book as `make book` does: execute every notebook into the cache, then build with its flags."""
    output = tmp_path_factory.mktemp("book")
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--path-output", str(output),
               "-W", "-n", "--keep-going"]
    # A cache of this build's own, so that chapters 9 and 10's command-line models are made afresh, as on a fresh
    # machine.
    environment = {**os.environ, "FROMZERO_CACHE": str(output / "cache")}
    started = time.perf_counter()
    execute = [sys.executable, str(ROOT / ".ci" / "execute.py"), "--build-dir", str(output / "_build")]
    execution = subprocess.run(execute, capture_output=True, text=True, check=False, cwd=ROOT, env=environment)
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env=environment)
    colab = subprocess.run([sys.executable, str(ROOT / ".ci" / "colab.py"), "--build-dir", str(output / "_build")],
                           capture_output=True, text=True, check=False, cwd=ROOT, env=environment)
    seconds = time.perf_counter() - started
    # The student edition renders the same executed notebooks (make student), for the tests that no solution leaks.
    student = subprocess.run([sys.executable, str(ROOT / ".ci" / "student.py"), "--build-dir", str(output / "_build")],
                             capture_output=True, text=True, check=False, cwd=ROOT, env=environment)
    log = execution.stdout + execution.stderr + result.stdout + result.stderr + colab.stdout + colab.stderr
    (output / "build.log").write_text(log, encoding="utf-8")  # each notebook's run time and slowest cells
    (output / "student.log").write_text(student.stdout + student.stderr, encoding="utf-8")
    # The Chinese edition, from the same executed notebooks (make book), for the tests of the translation.
    chinese = subprocess.run([sys.executable, str(ROOT / ".ci" / "translate.py"), "build", "--build-dir",
                              str(output / "_build")], capture_output=True, text=True, check=False, cwd=ROOT,
                             env=environment)
    (output / "chinese.log").write_text(chinese.stdout + chinese.stderr, encoding="utf-8")
    built = BuiltBook(output, log, result.returncode, seconds, student.stdout + student.stderr, student.returncode)
    built.chinese_log, built.chinese_returncode = chinese.stdout + chinese.stderr, chinese.returncode
    return built


def last_json(result: subprocess.CompletedProcess[str]) -> dict:
    """The JSON object a successful command prints as its last line (the command lines' contract)."""
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on, for torchrun's rendezvous."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_cpu_seconds() -> float:
    """CPU seconds used by this process's finished children: unlike wall time, it does not grow on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def file_digests(folder: Path, ignore: frozenset[str] = frozenset()) -> dict[str, str]:
    """A SHA-256 of every file under ``folder`` (except those named in ``ignore``), by relative path."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name not in ignore}


def default_sigint() -> None:
    """In a child about to start: Ctrl-C's default action, which a test worker may have set to 'ignore' (inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 2) -> None:
    """A command-line tool's documented failure: exit status ``code`` and one line on stderr naming the problem."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
