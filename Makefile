# Two commands do everything from a fresh clone: `make demo` and `make test`.
# The virtualenv lives at .venv, so the CLI is .venv/bin/mda after either.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo watch test check lint typecheck unit integration bench clean browser-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,prod]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mda demo

# The demo, then the watch-floor page on http://127.0.0.1:6066/watch/ until Ctrl-C.
watch: install
	$(BIN)/mda demo --watch

lint: install
	$(BIN)/ruff check mda streams replay tests scripts
	$(BIN)/ruff format --check mda streams replay tests scripts

typecheck: install
	$(BIN)/mypy --strict mda

check: lint typecheck

# playwright-core (npm) for the watch-floor page's browser test; the browser is Debian's
# chromium (/usr/bin/chromium), which .ci/run installs.
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json
$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $(BROWSER_DEPS)

browser-deps: $(BROWSER_DEPS)

# The whole suite: lint, types, unit, agent and integration tests (real embedded broker,
# real headless Chromium for the watch-floor page).
test: check browser-deps
	$(BIN)/pytest -q -p no:cacheprovider

unit: install
	$(BIN)/pytest -q tests/unit

integration: install browser-deps
	$(BIN)/pytest -q tests/integration

clean:
	rm -rf $(VENV) .mda-data .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules

# Operations (docker/, docker-compose.yml): the Prometheus files checked by promtool (Debian
# package `prometheus`), then the compose and ops tests. `make image` needs a Docker engine.
.PHONY: ops-check image
ops-check: install
	promtool check config docker/prometheus/prometheus.yml
	promtool check rules docker/prometheus/alerts.yml
	promtool test rules docker/prometheus/alerts_test.yml
	$(BIN)/pytest -q tests/unit/test_compose.py tests/integration/test_ops.py

image:
	docker build -f docker/Dockerfile -t mda-stream:local .

# Reliability (issue 7). `make fuzz`: the fuzz properties of tests/unit/test_fuzz_*.py with
# the long hypothesis budget (tests/hypothesis_profiles.py), with per-test statistics.
# `make soak`: bench/soak.py, a worker on the embedded broker under a steady replay
# (SOAK_MINUTES, default 10) sampling RSS, lines read and event-time lag into a CSV.
.PHONY: fuzz soak
SOAK_MINUTES ?= 10

fuzz: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q -p no:cacheprovider --timeout=0 --hypothesis-show-statistics \
		tests/unit/test_fuzz_decode.py tests/unit/test_fuzz_readers.py tests/unit/test_fuzz_track.py \
		tests/unit/test_fuzz_messages.py

soak: install
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) --csv soak.csv

# Performance figures for BENCHMARKS.md (not part of `make test`; ~4 minutes on a 2-core host).
bench: install
	$(BIN)/python -m bench.verify_decode
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.presence_fanout

# The wiring's ceiling: one worker with its decode, track and proximity stages replaced by
# lookups of their recorded outputs, interleaved with real runs (~3 minutes; bench/hollow.py).
.PHONY: ceiling
ceiling: install
	$(BIN)/python -m bench.hollow
	$(BIN)/python -m bench.hollow --preload

# Where one worker's time goes: one end-to-end (d) run with py-spy (200 Hz) on the worker,
# collapsed stacks in PROFILE_DIR, then the functions by share of samples (bench/stacks.py).
.PHONY: profile
PROFILE_DIR ?= .mda-data/profile
profile: install
	$(BIN)/pip install -q -e '.[profile]'
	$(BIN)/python -m bench.run --skip a,c,e,f,g --e2e-runs 1 --py-spy $(PROFILE_DIR)
	$(BIN)/python -m bench.stacks $(PROFILE_DIR)/*.txt
