# PKG — the two commands: `make run` serves the demo policy, `make test` passes the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared

.PHONY: run test install install-dev services tools wasm-example lint typecheck pytest bench bench-wasm bench-http bench-propagation bench-shadow bench-decision-log clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: serve the demo policy (examples/hotel_ops.yaml) on 127.0.0.1:8080, embedded SQLite
run: install
	PKG_SEED_FILE=$${PKG_SEED_FILE:-examples/hotel_ops.yaml} $(BIN)/pkgctl serve

## make test: lint, type-check and the whole suite (starts its own PostgreSQL and Redis)
test: install-dev services tools lint typecheck pytest

services:
	bash scripts/install-test-services.sh

## the hand-written WebAssembly example: examples/wasm/hello/policy.wat -> policy.wasm
wasm-example: install
	$(BIN)/python examples/wasm/hello/build.py

## helm and kubectl (kustomize) for the manifest tests, into .venv/tools/bin
tools:
	bash scripts/install-k8s-tools.sh

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python $(SHARED)/bench/run_peers.py --engine bench.engine:factory --engine bench.engine:fresh --json bench/out/peers.json

bench-wasm: install-dev
	$(BIN)/python -m bench.wasm

## make bench-http: wrk against /evaluate, /evaluate/batch, FastAPI's constant answer (on our uvicorn settings and on stock uvicorn) and a bare ASGI app, 1 and 2 workers
bench-http: install-dev services
	$(BIN)/python -m bench.http

bench-propagation: install-dev services
	$(BIN)/python -m bench.propagation

bench-shadow: install-dev
	$(BIN)/python -m bench.shadow

bench-decision-log: install-dev
	$(BIN)/python -m bench.decision_log
	$(BIN)/python -m bench.telemetry

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
