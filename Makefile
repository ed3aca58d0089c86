# The two commands of this project (see README.md):
#   make book   set up everything, execute every notebook, build the HTML book into _build/html (and its Chinese
#               edition into _build/html/zh)
#   make test   set up everything, then run every test (package, notebooks, the book build)
#   make student  the book, then its student edition (no solutions anywhere) into _build/student/_build/html
#   make pdf      the book, then all of it printed to one PDF, _build/pdf/book.pdf
# Set-up is idempotent: .venv is created if missing and re-synced when a requirements file changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fromzero-installed

.PHONY: book student pdf test lint clean setup

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt code/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e code
	touch $(STAMP)

# Notebooks (and the command-line models of chapters 9 and 10) execute two at a time into the execution cache; the
# build renders them, and executes again (to report its error) any notebook that failed there; then the notebooks
# that the Colab buttons open are written into _build/html/colab, and the Chinese edition, from the same executed
# notebooks and the translations of locale/zh_CN (.ci/translate.py), into _build/html/zh.
book: $(STAMP)
	-$(BIN)/python .ci/execute.py
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python .ci/colab.py
	$(BIN)/python .ci/translate.py build

# The student edition renders the notebooks the book's build executed (its cache is copied): nothing runs twice.
student: book
	$(BIN)/python .ci/student.py

# The PDF prints the pages of the HTML book (Debian's chromium; fonts-wqy-microhei for the glossary's Chinese).
pdf: book
	$(BIN)/python .ci/pdf.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
