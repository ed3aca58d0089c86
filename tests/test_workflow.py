"""The publishing workflow: valid for GitHub Actions, and made only of steps that this repository's CI runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ROOT, book_config

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
TORCH_CPU = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_workflow_is_valid_for_github_actions() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_runs_only_what_ci_runs_here() -> None:
    """Its commands are .ci/run (make test), make book, and the README's CPU-only torch install."""
    commands = [line.strip() for job in workflow()["jobs"].values() for step in job["steps"] if "run" in step
                for line in step["run"].splitlines() if line.strip()]
    assert commands == ["python -m venv .venv", f".venv/bin/{TORCH_CPU}", "./.ci/run", "make book"]
    assert TORCH_CPU in (ROOT / "README.md").read_text(encoding="utf-8").replace("\n  ", " ")


def test_workflow_publishes_the_built_book_where_the_colab_buttons_point() -> None:
    jobs = workflow()["jobs"]
    uploaded = next(step for step in jobs["book"]["steps"] if step.get("uses", "").startswith("actions/upload"))
    assert uploaded["with"]["path"] == "_build/html"  # .ci/colab.py writes the Colab notebooks inside it
    publish = next(step for step in jobs["publish"]["steps"] if "gh-pages" in step.get("uses", ""))
    options = book_config()["sphinx"]["config"]["html_theme_options"]
    assert publish["with"]["publish_branch"] == options["repository_branch"]
    assert jobs["publish"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
