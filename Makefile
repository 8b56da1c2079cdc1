# examengine: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install install-test lint typecheck unit e2e bench bench-quick wrk load loadtest lock clean serve demo mutation

## run: install into .venv, migrate the embedded SQLite database, load the demo, serve on 127.0.0.1:8000
run: install
	$(BIN)/examengine db upgrade
	$(BIN)/examengine demo load
	$(BIN)/examengine serve

## test: install with the test extras, then ruff, mypy, import contracts, the whole pytest suite
## and every benchmark's --quick mode (so that a benchmark can never rot). The suite runs
## in two steps: everything but tests/load on TEST_WORKERS processes (pytest-xdist, one
## file per process at a time), then the load tests alone, whose numbers need a quiet box.
TEST_WORKERS ?= 3
test: install-test lint typecheck
	$(MAKE) --no-print-directory bench-quick
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/load
	$(BIN)/python -m pytest tests/load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,load,bench]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-mutation: $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,mutation]'
	touch $@

# axe-core for the every-page accessibility sweep (tests/e2e/test_every_page.py), pinned in
# package-lock.json; test-only, nothing of it is served (docs/decisions/0036).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test node_modules/.installed

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-test
	$(BIN)/mypy

## e2e: the browser tests alone (Debian's Chromium at /usr/bin/chromium; `make test` runs them too)
e2e: install-test
	$(BIN)/python -m pytest tests/e2e

## bench: every benchmark in full, each beside its baseline (results: docs/benchmarks.md)
bench: install-test wrk
	$(BIN)/python -m benchmarks

## bench-quick: the same code on tiny sizes, in seconds (CI runs it through `make test`)
bench-quick: install-test wrk
	$(BIN)/python -m benchmarks --quick

# The HTTP benchmarks measure with wrk (Debian's package): installed when missing, or a
# message saying how; never a Python client whose figures cannot be compared.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "wrk is needed for the HTTP benchmarks: apt-get install -y wrk (as root)" >&2; exit 1; \
	  fi; }

## load: a load run of the synchronized exam start (make load USERS=1000 MODE=postgres WORKERS=2)
USERS ?= 500
MODE ?= sqlite
WORKERS ?= 1
load: install-test
	$(BIN)/python -m loadtests.run --users $(USERS) --mode $(MODE) --workers $(WORKERS)

## loadtest: every scenario (exam takers, studiers, proctors, authors), locust's CSV and HTML
## report, the ledger; exits non-zero on any loss (make loadtest USERS=2000 MODE=postgres
## WORKERS=2 DURATION=300 PROFILE=realistic; more options: loadtests/README.md)
DURATION ?= 180
SCENARIOS ?= all
PROCESSES ?= 2
PROFILE ?= stress
OUT ?=
loadtest: install-test
	$(BIN)/examengine loadtest run --users $(USERS) --mode $(MODE) --workers $(WORKERS) \
	  --duration $(DURATION) --scenarios $(SCENARIOS) --processes $(PROCESSES) \
	  --profile $(PROFILE) $(if $(OUT),--out $(OUT))

## mutation: mutation testing of examengine/ against its unit tests (mutmut, config in
## pyproject.toml; what it found and the survivors accepted: docs/testing.md). Module by
## module so that a run fits a shared 2-core machine: make mutation MODULES="credit attempt"
## (all of them take about 40 minutes here; assembly alone about half of that).
MODULES ?= grading eligibility attempt credit blueprint ids clock errors challenges assembly
mutation: $(VENV)/.installed-mutation
	@for m in $(MODULES); do \
	  echo "== examengine.$$m"; \
	  $(BIN)/mutmut run "examengine.$$m*" --max-children 2 || exit 1; \
	done
	$(BIN)/mutmut results

## lock: record the resolved versions of everything installed (commit requirements.lock)
lock: install-test
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > $(LOCK)

clean:
	rm -rf $(VENV) var mutants .mypy_cache .ruff_cache .pytest_cache .hypothesis
