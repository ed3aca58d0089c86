"""Execute the book's notebooks two at a time into Jupyter Book's execution cache, then let the build read it.

usage: python .ci/execute.py [--build-dir _build] [--jobs 2]

Most chapters compute on one core (they set ``torch.set_num_threads(1)``), so a machine with two cores
executing them one after another leaves a core idle. This script runs them in two lanes, together
with the training runs of the command-line models that chapters 9 and 10 load
(``python -m fromzero.transformer.showcase KIND``), and stores each executed notebook in the
jupyter-cache folder that ``jupyter-book build`` reads (``execute_notebooks: cache`` in ``_config.yml``).
The build then renders the cached outputs; a notebook that failed here is not cached, so the build
executes it again and reports its error as usual.

The cache is emptied first: every run executes every notebook, so a change to the package can never be
rendered with outputs computed by its older code. Each line of the log gives a notebook's run time and
its slowest cells.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
import yaml

from fromzero.viz import BOOK_BUILD_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
MODEL_CALL = re.compile(r"command_line_model\(\s*[\"'](\w+)[\"']")
# A one-core task keeps every thread pool to one thread, so that two lanes never ask for more than two cores.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


@dataclass
class Task:
    """One lane's unit of work: a notebook to execute or a command-line model to train."""

    name: str
    command: list[str]
    needs: set[str] = field(default_factory=set)
    environment: dict[str, str] = field(default_factory=dict)
    notebook: Path | None = None
    cores: int = 1


def add_build_dir(parser: argparse.ArgumentParser) -> None:
    """The option every script of the build takes: where the book's build goes, or went."""
    parser.add_argument("--build-dir", type=Path, default=ROOT / "_build",
                        help="the build folder that jupyter-book writes (its --path-output followed by /_build)")


def toc_parts() -> list[tuple[str | None, list[str]]]:
    """The book's parts in order, as (caption, documents without extension); the root comes first, without one."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts: list[tuple[str | None, list[str]]] = [(None, [toc["root"]])]
    for part in toc.get("parts", []):
        names = []
        for chapter in part.get("chapters", []):
            names.append(chapter["file"])
            names.extend(section["file"] for section in chapter.get("sections", []))
        parts.append((part.get("caption"), names))
    return parts


def toc_files() -> list[str]:
    """Every document listed in ``_toc.yml``, without extension, in book order (the tests read it here too)."""
    return [name for _, names in toc_parts() for name in names]


def book_notebooks() -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in book order."""
    return [ROOT / f"{name}.ipynb" for name in toc_files() if (ROOT / f"{name}.ipynb").exists()]


def plan(timeout: int, executed: Path) -> list[Task]:
    """The command-line models first, then the notebooks from the last to the first.

    The later chapters train the larger models, so going backwards starts the longest work first and leaves the
    short notebooks of Part I for the end, where they fill both lanes until the last one finishes. A chapter that
    loads a command-line model waits for it (the lane takes the next notebook meanwhile).
    """
    models = [Task(f"model {kind}", [sys.executable, "-m", "fromzero.transformer.showcase", kind],
                   environment=ONE_THREAD) for kind in ("bert", "gpt")]
    notebooks = []
    for path in book_notebooks():
        name = path.relative_to(ROOT).with_suffix("").as_posix()
        notebook = nbformat.read(path, as_version=4)
        code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
        needs = {f"model {kind}" for kind in MODEL_CALL.findall(code)}
        command = [sys.executable, __file__, "--one", str(path), "--timeout", str(timeout),
                   "--save", str(executed / f"{path.stem}.ipynb")]
        cores = notebook.metadata.get("fromzero", {}).get("cores", 1)
        environment = {BOOK_BUILD_VARIABLE: "1", **({} if cores > 1 else ONE_THREAD)}  # as .ci/sphinx_book.py sets
        notebooks.append(Task(name, command, needs, environment, notebook=path, cores=cores))
    return models + notebooks[::-1]


def execute_one(path: Path, timeout: int, save: Path) -> int:
    """Execute one notebook in its own folder; save it without per-cell timings and report its slowest cells."""
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(path.parent), timeout=timeout, allow_errors=False,
                                 record_timing=True)
    cell_seconds = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).pop("execution", None)
        if timing and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            started, ended = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                              for key in ("iopub.execute_input", "shell.execute_reply"))
            cell_seconds.append(((ended - started).total_seconds(), index))
    slowest = ", ".join(f"cell {index} {seconds:.0f} s" for seconds, index in sorted(cell_seconds, reverse=True)[:3])
    if result.err is not None:
        print(result.exc_string, file=sys.stderr)
        return 1
    nbformat.write(notebook, save)
    save.with_suffix(".json").write_text(json.dumps({"seconds": result.time, "slowest": slowest}))
    return 0


class Lanes:
    """Run tasks on ``jobs`` threads; each takes the first waiting task whose needs are met.

    A notebook given both cores (``"fromzero": {"cores": 2}`` in its metadata) waits until it has the machine
    to itself, so that its run time is the one a reader's machine gives: chapters 5.1 and 5.2, which train on
    two threads, and chapters 9 and 12, the longest, whose one-threaded runs a neighbour would stretch past
    the 5-minute limit (chapter 9: 404 s beside another notebook in CI, about 250 s alone; chapter 12: 314 s
    beside one on a slow day).
    """

    def __init__(self, tasks: list[Task], jobs: int, on_done) -> None:
        self.waiting, self.jobs, self.on_done = list(tasks), jobs, on_done
        self.finished: set[str] = set()
        self.failed: list[str] = []
        self.cores_in_use = 0
        self.condition = threading.Condition()

    def run(self) -> list[str]:
        threads = [threading.Thread(target=self._lane) for _ in range(self.jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.failed

    def _next(self) -> Task | None:
        with self.condition:
            while self.waiting:
                ready = [task for task in self.waiting if task.needs <= self.finished]
                if ready and self.cores_in_use + min(ready[0].cores, self.jobs) <= self.jobs:
                    self.waiting.remove(ready[0])
                    self.cores_in_use += min(ready[0].cores, self.jobs)
                    return ready[0]
                self.condition.wait()
            return None

    def _lane(self) -> None:
        while (task := self._next()) is not None:
            started = time.perf_counter()
            completed = subprocess.run(task.command, cwd=ROOT, env={**os.environ, **task.environment},
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
            seconds = time.perf_counter() - started
            with self.condition:
                if completed.returncode != 0:
                    self.failed.append(task.name)
                    print(f"FAILED {task.name} after {seconds:.0f} s:\n{completed.stdout[-3000:]}", flush=True)
                else:
                    self.on_done(task, seconds)
                self.finished.add(task.name)  # a failed model still releases its chapter, which then reports
                self.cores_in_use -= min(task.cores, self.jobs)
                self.condition.notify_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_build_dir(parser)
    parser.add_argument("--jobs", type=int, default=2, help="lanes running at once (default: 2)")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        return execute_one(arguments.one, arguments.timeout, arguments.save)

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    cache_path = arguments.build_dir / ".jupyter_cache"
    shutil.rmtree(cache_path, ignore_errors=True)
    cache = get_cache(cache_path)
    executed = Path(tempfile.mkdtemp(prefix="executed-"))
    tasks = plan(int(config["execute"]["timeout"]), executed)
    started = time.perf_counter()

    def on_done(task: Task, seconds: float) -> None:
        detail = ""
        if task.notebook is not None:
            report = json.loads((executed / f"{task.notebook.stem}.ipynb").with_suffix(".json").read_text())
            notebook = nbformat.read(executed / f"{task.notebook.stem}.ipynb", as_version=4)
            cache.cache_notebook_bundle(CacheBundleIn(notebook, str(task.notebook),
                                                      data={"execution_seconds": report["seconds"]}),
                                        check_validity=False, overwrite=True)
            detail = f" (slowest: {report['slowest']})"
        clock = time.perf_counter() - started
        print(f"[{clock / 60:5.1f} min] {task.name}: {seconds:.0f} s{detail}", flush=True)

    print(f"executing {len(tasks)} tasks in {arguments.jobs} lanes into {cache_path}", flush=True)
    failed = Lanes(tasks, arguments.jobs, on_done).run()
    shutil.rmtree(executed, ignore_errors=True)
    print(f"executed in {(time.perf_counter() - started) / 60:.1f} min"
          + (f"; failed (the build runs them again and reports): {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
