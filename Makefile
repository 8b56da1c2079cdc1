# examengine: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install install-test lint typecheck unit e2e bench lock clean serve demo

## run: install into .venv, migrate the embedded SQLite database, load the demo, serve on 127.0.0.1:8000
run: install
	$(BIN)/examengine db upgrade
	$(BIN)/examengine demo load
	$(BIN)/examengine serve

## test: install with the test extras, then ruff, mypy, import contracts and the whole pytest suite
test: install-test lint typecheck
	$(BIN)/python -m pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,load,bench]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

## e2e: the browser tests alone (Debian's Chromium at /usr/bin/chromium; `make test` runs them too)
e2e: install-test
	$(BIN)/python -m pytest tests/e2e

bench: install-test
	$(BIN)/python -m benchmarks.itembank
	$(BIN)/python -m benchmarks.assembly
	$(BIN)/python -m benchmarks.attempts
	$(BIN)/python -m benchmarks.challenges

## lock: record the resolved versions of everything installed (commit requirements.lock)
lock: install-test
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > $(LOCK)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
