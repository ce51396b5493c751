# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# Bytecode is cached (in __pycache__, which git ignores) even where the environment sets
# PYTHONDONTWRITEBYTECODE: else every pytest worker, and every bot process a test starts, compiles
# the project again and pytest rewrites every test module's asserts again (about 8.5 s of CPU per
# pytest process on a 2-core machine; docs/development.md).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast screenshots check lint typecheck security bench bench-load bench-broadcast bench-indicators bench-lookup bench-workers bench-export soak clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Start the bot on SQLite with the web chat on http://127.0.0.1:8080/ (and Telegram when BARAZA_TELEGRAM_TOKEN is set).
run: $(STAMP)
	$(BIN)/baraza --config config.yaml run

## Debian packages the test suite needs: Chromium for the browser tests, a colour emoji font for their pictures.
SYSTEM_PACKAGES := chromium fonts-noto-color-emoji
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages: sudo apt-get install $$missing"; fi; fi

# pytest on every core by pytest-xdist (each test has its own database, ports and temporary folder);
# The whole suite runs each test file in one worker, in its order (--dist loadfile: a kill -9 test
# failed when its file was spread over both); the fast loop balances single tests (worksteal).
# TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto
PYTEST = $(BIN)/python -m pytest -q -n $(TEST_WORKERS)
# Exit code 5 (no test collected) fails like any other, with its reason said.
NO_TESTS_FAIL = status=$$?; [ $$status -ne 5 ] || echo "pytest: no tests were collected (exit 5)"; exit $$status
FAST = not slow and not e2e and not browser and not postgres and not redis

## Install everything and run the whole suite (SQLite always; PostgreSQL and Redis when reachable, started if installed).
test: $(TEST_STAMP) system-deps lint typecheck security
	@scripts/ensure-postgres.sh || true
	@scripts/ensure-redis.sh || true
	@$(PYTEST) --dist loadfile; $(NO_TESTS_FAIL)

## The quick loop: unit and single-process tests on SQLite (no end-to-end, kill -9, Chromium, PostgreSQL or Redis).
## Four workers even on two cores: most of these tests wait on sockets (fake Bot API, the bot's web server),
## so two more workers overlap the waiting (measured: 71 s with 2 workers, 49 s with 4; docs/development.md).
FAST_WORKERS ?= 4
test-fast: $(TEST_STAMP)
	@BARAZA_TEST_BACKENDS=sqlite $(BIN)/python -m pytest -q -n $(FAST_WORKERS) --dist worksteal -m "$(FAST)"; $(NO_TESTS_FAIL)

## The documentation's pictures: the tour (tests/browser/test_tour_screenshots.py) and the results page on a phone write them to docs/screenshots/.
screenshots: $(TEST_STAMP) system-deps
	BARAZA_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:xdist tests/browser/test_tour_screenshots.py tests/browser/test_results_browser.py

## bandit (no high-severity finding) and pip-audit (no known vulnerability; "skipped: no network" offline).
security: $(TEST_STAMP)
	$(BIN)/python scripts/security.py

## ruff, and the dependency contract of pyproject.toml's [tool.importlinter].
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(TEST_STAMP)
	$(BIN)/mypy bot surveys handlers storage catalogue results common

check: lint typecheck test

## Simulated users answering the shipped survey through the fake Bot API; prints answers/s and latency.
bench: $(TEST_STAMP)
	$(BIN)/python -m bench.survey_load

## Load: 10,000 simulated users through the fake Bot API (polling and webhook, SQLite and PostgreSQL) against
## Baraza, a bare PTB echo bot and a ConversationHandler+PicklePersistence bot; prints the ratios. Long: not in `make test`.
## Smaller: make bench-load USERS=200 (all eight runs in a few minutes); Baraza alone: .venv/bin/python -m bench.load --baselines none (echo bot only: --baselines echo)
USERS ?= 10000
bench-load: $(TEST_STAMP)
	@scripts/ensure-postgres.sh || true
	$(BIN)/python -m bench.load --users $(USERS)

## A broadcast to 100,000 contacts through the fake Bot API: unlimited (with a kill -9), 1000/s, 30/s.
bench-broadcast: $(TEST_STAMP)
	$(BIN)/python -m bench.broadcast_load

## Load an indicator catalogue of 10,000 series and 5 million observations (SQLite and PostgreSQL); prints time and peak memory.
bench-indicators: $(TEST_STAMP)
	@scripts/ensure-postgres.sh || true
	$(BIN)/python -m bench.catalogue_load

## Lookup latency over 10,000 series / 5,000,000 observations (the catalogue is built once into /tmp).
bench-lookup: $(TEST_STAMP)
	$(BIN)/python -m bench.indicator_lookup

## Answers/s and p99 latency: 1, 2 and 4 webhook workers on PostgreSQL vs one process on SQLite.
bench-workers: $(TEST_STAMP)
	@scripts/ensure-postgres.sh || true
	@scripts/ensure-redis.sh || true
	$(BIN)/python -m bench.workers

## Exports of 1,000,000 responses (30 questions) to CSV, JSON Lines, Excel, SPSS, Stata beside the pandas route (SQLite, cached in /tmp).
bench-export: $(TEST_STAMP)
	$(BIN)/python -m bench.export_formats

## 50 kill -9 of the bot amid surveys, lookups and a broadcast, with a flaky Bot API (SQLite and PostgreSQL).
soak: $(TEST_STAMP)
	@scripts/ensure-postgres.sh || true
	$(BIN)/python -m bench.soak --kills 50

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
