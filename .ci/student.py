"""Build the student edition: the book and its Colab notebooks with every solution left out.

usage: python .ci/student.py [--build-dir _build]

Run after the book's own build (``make book``). The student edition renders the notebooks that build executed:
its execution cache is copied, and the sources are the same, so nothing executes twice. ``FROMZERO_EDITION=student``
tells the book's Sphinx extension (``.ci/sphinx_book.py``) to leave every solution out of the pages, the search
index and the page sources; ``.ci/colab.py --student`` leaves them out of the Colab notebooks. The result is
``<build>/student/_build/html``, to be published at the book's address followed by ``student/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from execute import add_build_dir
from sphinx_book import EDITION_VARIABLE, STUDENT_FOLDER

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_build_dir(parser)
    arguments = parser.parse_args()
    cache = arguments.build_dir / ".jupyter_cache"
    if not cache.is_dir():
        print(f"error: no execution cache in {arguments.build_dir}: build the book first (make book)", file=sys.stderr)
        return 1
    output = arguments.build_dir / STUDENT_FOLDER
    shutil.rmtree(output, ignore_errors=True)
    shutil.copytree(cache, output / "_build" / ".jupyter_cache")
    environment = {**os.environ, EDITION_VARIABLE: "student"}
    jupyter_book = str(Path(sys.executable).with_name("jupyter-book"))
    build = subprocess.run([jupyter_book, "build", str(ROOT), "--path-output", str(output), "-W", "-n", "--keep-going"],
                           env=environment, check=False)
    if build.returncode != 0:
        return build.returncode
    colab = [sys.executable, str(ROOT / ".ci" / "colab.py"), "--build-dir", str(output / "_build"), "--student"]
    return subprocess.run(colab, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
