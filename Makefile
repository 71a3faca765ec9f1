# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

CHROMIUM := /usr/bin/chromium

.PHONY: serve test fuzz lint bench clean browser outbox-chaos bench-outbox bench-history \
	bench-fairness

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

serve: $(STAMP)
	HOOKLINE_EGRESS_ALLOW="$${HOOKLINE_EGRESS_ALLOW-127.0.0.0/8,::1/128}" $(BIN)/hookline serve

# The portal's browser tests drive Debian's Chromium: Playwright's own browser download
# cannot work offline. Installed when missing and root; otherwise those tests skip (fail in CI).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the portal's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      >/dev/null || echo "could not install chromium: browser tests will not run"; \
	  else \
	    echo "$(CHROMIUM) is missing and this is not root: browser tests will skip"; \
	  fi; \
	fi

# The suite mostly waits on servers, databases and browsers: it runs in TEST_WORKERS processes,
# each test file in one of them (module fixtures start once); then, alone, the tests marked
# `exclusive` (they restart the shared PostgreSQL). `make test TEST_WORKERS=0` runs the first
# part in this process.
TEST_WORKERS ?= 4

# pylint runs one check (see [tool.pylint] in pyproject.toml): no six lines repeated across src/.
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pylint src/hookline

test: lint browser
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile -m "not exclusive" \
	  $(PYTEST_ARGS)
	$(BIN)/pytest -q -p no:cacheprovider -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Every phase of schemathesis (examples, coverage, fuzzing, stateful), 100 examples per
# operation, every check, against a live server; `make test` runs a quick pass of the same.
fuzz: $(DEV_STAMP)
	$(BIN)/python -m tests.fuzz.live $(FUZZ_ARGS)

# Every mode on both databases with the ceiling and Celery in a few minutes; single modes with
# e.g. `make bench BENCH_ARGS="--database postgres --modes closed,open --no-celery"`.
bench: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/throughput.py --json bench/throughput.json $(BENCH_ARGS)

# The outbox's chaos test at full size (`make test` runs it with 300 events and two kills).
outbox-chaos: $(DEV_STAMP)
	OUTBOX_CHAOS_EVENTS=5000 OUTBOX_CHAOS_KILLS=5 $(BIN)/pytest -q -p no:cacheprovider \
	  tests/outbox/test_outbox_chaos.py

# Relay throughput (batch publish) and lag at a steady rate; needs HOOKLINE_TEST_POSTGRES_URL.
bench-outbox: $(DEV_STAMP)
	$(BIN)/python bench/outbox.py $(BENCH_ARGS)

# Issue 18's four targets on PostgreSQL (10M attempts of history, retention under load, the
# purge beside deliveries, a 1M backlog); one at a time with BENCH_ARGS="--targets 4".
bench-history: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	cd bench && ../$(BIN)/python history.py $(BENCH_ARGS)

# Issue 13's targets 2 (a rate limit and a cap across two workers) and 3 (a 429 with
# Retry-After) with real processes, on PostgreSQL at HOOKLINE_TEST_POSTGRES_URL.
bench-fairness: $(DEV_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/fairness.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) hookline.db hookline.db-* .pytest_cache .mypy_cache .ruff_cache
