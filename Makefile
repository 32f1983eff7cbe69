# Everything a fresh machine needs: Python 3.11+ with venv and pip, and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 37373
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean pyz conformance bench-search bench-cluster

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

## Lint, type-check and run every test, the official MCP conformance suites included
## (their Node tools are installed from the npm registry into build/conformance/ first).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tests.conformance.install
	TORNADOHUB_CONFORMANCE=1 $(BIN)/pytest -q

## Benchmark against mcp-hub 4.2.1 side by side (installs it under build/bench; ~10 min).
## Writes build/bench/out/{bench.json,bench.md,latency.png}; BENCH_ARGS=--quick for a smoke run.
.PHONY: bench
bench: $(STAMP)
	PYTHON=$(PYTHON) bench/setup.sh
	build/bench/venv/bin/python -m bench.run --hub-python $(abspath $(BIN))/python --profile $(BENCH_ARGS)

## Tool search bench (issue 16): recall@5/MRR of 73 labelled queries over the tools of ~30 real
## npm MCP servers (installed under build/search-bench and captured once: npm registry, ~5 min),
## and search/index times over 10,000 tools. Later runs are offline. See bench/search/README.md.
bench-search: $(STAMP)
	$(BIN)/python -m bench.search.run $(BENCH_ARGS)

## Cluster mode against one hub: CPU per call, one core shared by 1 or 3 hubs, a forwarded
## call, nginx per request (needs redis-server, nginx, taskset; ~4 min; run it on a quiet
## machine). Prints the "Cluster mode" section of bench/RESULTS.md; BENCH_ARGS=--quick.
bench-cluster: $(STAMP)
	$(BIN)/python -m bench.cluster $(BENCH_ARGS)

## Official MCP conformance suites (2025 wire and 2026-07-28) and the Inspector CLI against a
## real hub; installs Node 22 and the npm tools into build/conformance/ first (npm registry).
## `make test` runs them too.
conformance: $(STAMP)
	$(BIN)/python -m tests.conformance.install
	TORNADOHUB_CONFORMANCE=1 $(BIN)/pytest -q -s tests/conformance

clean:
	rm -rf $(VENV) build dist *.egg-info
