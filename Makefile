# PKG — the two commands: `make run` serves the demo policy, `make test` passes the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared

.PHONY: run test check core imports docs lock test-latest install install-dev services tools wasm-example lint typecheck pytest bench bench-core bench-wasm bench-http bench-mixed bench-replay bench-propagation bench-shadow bench-decision-log clean

# uv, the installer, in a venv of its own, checked against the hashes in scripts/uv-requirements.txt
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
# never download an interpreter (the registries are the only network here): use $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# the venv this Makefile builds, whatever venv the caller has active
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV): scripts/uv-requirements.txt
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q --require-hashes --no-deps -r scripts/uv-requirements.txt
	touch $@

# Exactly what uv.lock holds (--frozen: the lock is never rewritten here; --locked would be the
# same, but fails instead when pyproject.toml changed without `make lock`, which
# tests/unit/test_lock.py reports by name). --inexact: `make run` after `make test` keeps the
# dev tools instead of uninstalling them.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync -q --frozen --inexact --extra compile
	touch $@

$(VENV)/.installed-dev: pyproject.toml uv.lock | $(UV)
	$(UV) sync -q --frozen --extra dev
	touch $(VENV)/.installed $@

# The decision core compiled with mypyc (app/domain/core.py names its modules): rebuilt when a
# domain module (the core's, or one whose types it compiles against) or the lock changes. A
# failed build (no C compiler) is reported and leaves the pure-Python modules, which is what
# app/domain loads whenever the build's stamp does not match its sources.
CORE_SOURCES := $(wildcard app/domain/*.py)
CORE_STAMP := app/domain/_compiled/core.json
$(CORE_STAMP): $(CORE_SOURCES) scripts/build_core.py uv.lock
	$(BIN)/python scripts/build_core.py || true

## make core: compile the decision core now (make install does); PKG_PURE_PYTHON=1 runs without it
core: install $(CORE_STAMP)

## make lock: re-resolve uv.lock from pyproject.toml's ranges (keeps locked versions that still fit;
## `make lock UPGRADE=1` moves every package to its newest allowed release)
lock: | $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade)

## make test-latest: the suite on the newest releases pyproject.toml allows, in .venv-latest
## (not part of `make test`; an upgrade is a deliberate step: run this, fix, `make lock UPGRADE=1`)
test-latest: services tools | $(UV)
	rm -rf .venv-latest
	$(UV) venv -q .venv-latest
	VIRTUAL_ENV=.venv-latest $(UV) pip install -q --upgrade -e '.[dev]'
	.venv-latest/bin/ruff check .
	.venv-latest/bin/ruff format --check .
	.venv-latest/bin/mypy
	.venv-latest/bin/pytest

install: $(VENV)/.installed $(CORE_STAMP)
install-dev: $(VENV)/.installed-dev $(CORE_STAMP)

## make run: serve the demo policy (examples/hotel_ops.yaml) on 127.0.0.1:8080, embedded SQLite
run: install
	PKG_SEED_FILE=$${PKG_SEED_FILE:-examples/hotel_ops.yaml} $(BIN)/pkgctl serve

## make test: lint, type-check, the import contracts, the docs site and the whole suite (starts
## its own PostgreSQL and Redis; `services` first: it also brings the C compiler the core needs)
test: services install-dev tools lint typecheck imports docs pytest

## make check: the edit-run loop, well under a minute: lint, types, import contracts and the unit
## tests (the domain, the services, the engines; no servers, no databases)
check: lint typecheck imports
	$(BIN)/pytest -q tests/unit

## the docs site (mkdocs.yml, docs/) into site/: every page builds, every link and anchor resolves
## (NO_MKDOCS_2_WARNING: Material's end-of-life banner, not a build warning)
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## the import contracts in pyproject.toml ([tool.importlinter]): layers, no circles
imports: install-dev
	$(BIN)/lint-imports

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

## make bench-core: make bench's peer run 5 times on the compiled core, once on PKG_PURE_PYTHON=1
bench-core: install-dev
	$(BIN)/python -m bench.core

bench-wasm: install-dev
	$(BIN)/python -m bench.wasm

## make bench-http: wrk against /evaluate, /evaluate/batch, FastAPI's constant answer (on our uvicorn settings and on stock uvicorn) and a bare ASGI app, 1 and 2 workers
bench-http: install-dev services
	$(BIN)/python -m bench.http

## make bench-mixed: wrk single /evaluate (c32) and /evaluate/batch of 100 (c8) at once on one worker: both p99s, batch ÷ single
bench-mixed: install-dev
	$(BIN)/python -m bench.http_mixed

## make bench-replay: 100k logged decisions replayed on a candidate (SQLite), against compare on the same inputs
bench-replay: install-dev
	$(BIN)/python -m bench.replay --json bench/out/replay_sqlite.json

bench-propagation: install-dev services
	$(BIN)/python -m bench.propagation

bench-shadow: install-dev
	$(BIN)/python -m bench.shadow

bench-decision-log: install-dev
	$(BIN)/python -m bench.decision_log
	$(BIN)/python -m bench.telemetry

clean:
	rm -rf $(VENV) .venv-latest $(UV_HOME) var site build .pytest_cache .mypy_cache .ruff_cache .hypothesis
