# The two commands of this project (see README.md):
#   make book   set up everything, execute every notebook, build the HTML book into _build/html
#   make test   set up everything, then run every test (package, notebooks, the book build)
# Set-up is idempotent: .venv is created if missing and re-synced when a requirements file changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fromzero-installed

.PHONY: book test lint clean setup

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt code/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e code
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf _build .pytest_cache .ruff_cache .hypothesis
