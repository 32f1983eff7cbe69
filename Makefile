# Everything a fresh machine needs: Python 3.11+ with venv and pip, and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 37373
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean pyz

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Start the hub on the bundled example config (a bundled demo server; works offline).
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/mcp-hub serve --port $(PORT) --config tornadohub/examples/demo.json

## Build dist/mcp-hub.pyz, the single-file hub (see zipapp/README.md).
pyz: $(STAMP)
	PYTHON=$(BIN)/python zipapp/build.sh

## Lint, type-check and run every test.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build dist *.egg-info
