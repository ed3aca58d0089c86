"""``bench/gpu_check.sh --dry-run``: the prepared GPU check resolves every step, so it cannot rot without a GPU."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT, script_module


def gpu_check() -> ModuleType:
    return script_module("bench/gpu_check.py")


def test_dry_run_resolves_every_step(tmp_path: Path) -> None:
    result = subprocess.run(["bash", "bench/gpu_check.sh", "--dry-run", "--out", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "gpu_report.md").read_text(encoding="utf-8")
    assert report.startswith("# GPU check (dry run)")
    check = gpu_check()
    assert "--prepare would download gensim==4.4.0" in report  # the pin of requirements.txt
    for step in check.steps(tmp_path):
        line = next(line for line in report.splitlines() if line.startswith(f"- {step.name}: "))
        assert "pytest collects" in line if step.is_pytest else " parses " in line, line


@pytest.mark.parametrize("args", [["bench/bench_trainer.py", "--no-such-option"],
                                  ["bench/bench_pretrain.py", "--", "--no-such-option"],
                                  ["bench/bench_embeddings.py", "--methods", "nonsense"]])
def test_a_step_the_scripts_no_longer_take_fails_the_dry_run(args: list[str]) -> None:
    check = gpu_check()
    with pytest.raises(SystemExit):
        check.resolve(check.Step("renamed", args, 1))


def test_every_carried_wheel_is_pinned_where_the_other_machines_get_it() -> None:
    check = gpu_check()
    assert [check.pinned(name).split("==")[0] for name in check.CARRIED.values()] == list(check.CARRIED.values())
