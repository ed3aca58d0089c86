"""What a solution computes stays in the solution: the student edition leaves solutions out, so a number glued in a
solution and quoted in the chapter's own text would hand the student the answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import cells_with_solution_flag, notebooks

INLINE_SOLUTION = re.compile(r"^(:{3,}|`{3,})\{solution\}.*?^\1\s*$", re.MULTILINE | re.DOTALL)
GLUE_REFERENCE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")
GLUE_CALL = re.compile(r"""\bglue\(\s*(f?)["']([^"']+)["']""")


def _glue_names(source: str) -> set[str]:
    """The names ``glue(...)`` calls in ``source`` define, as regular expressions (an f-string's fields match any)."""
    return {re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(name)) if is_f_string else re.escape(name)
            for is_f_string, name in GLUE_CALL.findall(source)}


def _leaks(path: Path) -> list[str]:
    """Glue names that only solution code defines and that the Markdown outside the solutions quotes."""
    in_solutions, elsewhere, text = set(), set(), []
    for cell, inside in cells_with_solution_flag(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            (in_solutions if inside else elsewhere).update(_glue_names(source))
        elif not inside:
            text.append(INLINE_SOLUTION.sub("", source))
    quoted = {name for markdown in text for name in GLUE_REFERENCE.findall(markdown)}
    return sorted(name for name in quoted if any(re.fullmatch(pattern, name) for pattern in in_solutions)
                  and not any(re.fullmatch(pattern, name) for pattern in elsewhere))


@pytest.mark.parametrize("path", notebooks(), ids=lambda path: path.stem)
def test_no_number_of_a_solution_is_quoted_outside_it(path: Path) -> None:
    leaked = _leaks(path)
    assert not leaked, f"{path.name} quotes outside its solutions what they compute: {leaked}"


def test_the_check_finds_a_solution_number_quoted_in_the_text(tmp_path: Path) -> None:
    cells = [{"cell_type": "markdown", "source": ["The answer is {glue:text}`answer_7:.1f`."]},
             {"cell_type": "markdown", "source": ["```{solution-start} ex-1\n", ":class: dropdown\n", "```"]},
             {"cell_type": "code", "source": ["for k in (7,):\n", "    glue(f\"answer_{k}\", 1.0)"]},
             {"cell_type": "markdown", "source": ["It is {glue:text}`answer_7`.\n", "\n", "```{solution-end}\n```"]}]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert _leaks(path) == ["answer_7"]
