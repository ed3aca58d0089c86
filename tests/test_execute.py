"""The build's notebook runner (.ci/execute.py): lanes that respect what a task needs and the cores it takes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from conftest import ROOT, notebooks, script_module

execute = script_module(".ci/execute.py")


def timed_task(name: str, log: Path, seconds: float = 0.3, **fields) -> execute.Task:
    """A task that records when it starts and ends."""
    script = (f"import time, pathlib; p = pathlib.Path({str(log)!r}); "
              f"p.open('a').write(f'{name} start {{time.time()}}\\n'); time.sleep({seconds}); "
              f"p.open('a').write(f'{name} end {{time.time()}}\\n')")
    return execute.Task(name, [sys.executable, "-c", script], **fields)


def spans(log: Path) -> dict[str, tuple[float, float]]:
    events: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        name, kind, moment = line.rsplit(" ", 2)
        events.setdefault(name, {})[kind] = float(moment)
    return {name: (times["start"], times["end"]) for name, times in events.items()}


def test_lanes_run_in_parallel_but_a_task_waits_for_what_it_needs(tmp_path: Path) -> None:
    log = tmp_path / "log"
    tasks = [timed_task("model", log, 0.6), timed_task("chapter", log, needs={"model"}), timed_task("other", log)]
    done: list[str] = []
    started = time.perf_counter()
    failed = execute.Lanes(tasks, 2, lambda task, seconds: done.append(task.name)).run()
    assert not failed and sorted(done) == ["chapter", "model", "other"]
    times = spans(log)
    assert times["chapter"][0] >= times["model"][1], "the chapter started before the model it loads was made"
    assert times["other"][0] < times["model"][1], "the second lane stayed idle"
    assert time.perf_counter() - started < 0.6 + 0.3 + 0.3 + 2  # model then chapter; the other beside them


def test_a_two_core_task_runs_alone(tmp_path: Path) -> None:
    log = tmp_path / "log"
    tasks = [timed_task("a", log), timed_task("both cores", log, cores=2), timed_task("b", log), timed_task("c", log)]
    execute.Lanes(tasks, 2, lambda task, seconds: None).run()
    times = spans(log)
    alone_start, alone_end = times["both cores"]
    for name in ("a", "b", "c"):
        start, end = times[name]
        assert end <= alone_start or start >= alone_end, f"{name} ran beside the two-core task"


def test_a_failed_task_is_reported_and_releases_what_waits_for_it(tmp_path: Path) -> None:
    log = tmp_path / "log"
    broken = execute.Task("model", [sys.executable, "-c", "raise SystemExit(3)"])
    failed = execute.Lanes([broken, timed_task("chapter", log, needs={"model"})], 2, lambda task, seconds: None).run()
    assert failed == ["model"] and "chapter" in spans(log)


def test_plan_makes_the_models_first_and_reads_each_notebook_cores_and_needs(tmp_path: Path) -> None:
    tasks = execute.plan(290, tmp_path)
    assert [task.name for task in tasks[:2]] == ["model bert", "model gpt"]
    assert [task.notebook for task in tasks[2:]] == notebooks()[::-1]
    by_name = {task.name: task for task in tasks}
    assert by_name["chapters/part3/09_tiny_bert"].needs == {"model bert"}
    assert by_name["chapters/part3/10_tiny_gpt"].needs == {"model gpt"}
    assert len(tasks) == 2 + len(notebooks())
    for path in notebooks():
        declared = nbformat.read(path, as_version=4).metadata.get("fromzero", {}).get("cores", 1)
        task = by_name[path.relative_to(ROOT).with_suffix("").as_posix()]
        assert task.cores == declared and task.environment["FROMZERO_BOOK_BUILD"] == "1"
        assert ("OMP_NUM_THREADS" in task.environment) == (declared == 1)
