"""code/README.md maps every module of the package: each module it lists exists, and each module is listed."""

from __future__ import annotations

import re
from pathlib import Path

CODE = Path(__file__).resolve().parents[1] / "code"


def test_the_module_map_lists_every_module_and_only_modules_that_exist() -> None:
    listed = re.findall(r"^\| `(fromzero[\w.]*)` \|", (CODE / "README.md").read_text(encoding="utf-8"), re.MULTILINE)
    package = CODE / "fromzero"
    modules = {
        ".".join(("fromzero", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("*.py") if path.name not in ("__init__.py", "__main__.py")
    }
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(set(listed) - modules) == [], "listed but not in the package"
    assert sorted(modules - set(listed)) == [], "in the package but not listed"
