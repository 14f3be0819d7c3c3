# stask — the obvious targets. `make run` and `make test` install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint format bench clean chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run stask with embedded defaults: SQLite file, a private Redis, the web app and one worker.
run: install
	$(BIN)/python -m stask.embedded

## Chromium for the browser tests (Debian package; Playwright drives it, never downloads one).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

## The whole suite: every database and a real Redis (set CI=true to fail instead of skip when one is down).
test: install chromium
	$(BIN)/python -m pytest -q

## Everything but the browser tests.
test-fast: install
	$(BIN)/python -m pytest -q -m "not browser"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check stask tests bench

format: install
	$(BIN)/ruff format stask tests bench
	$(BIN)/ruff check --fix .

## Benchmarks against bare RQ (not part of the tests).
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache *.egg-info
