# innobot's commands. `make test` is what CI runs (.ci/run); `make demo` talks to innobot here.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.innobot-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help venv postgres synapse chromium test lint format demo bench

help:
	@echo "make venv      create .venv and install innobot with its development tools"
	@echo "make test      ruff, mypy and pytest (SQLite and a throwaway PostgreSQL), as CI runs them"
	@echo "make lint      ruff and mypy only"
	@echo "make format    rewrite the code in the project's style (ruff format, ruff --fix)"
	@echo "make demo      migrate data/innobot.db and talk to innobot in this terminal"
	@echo "make bench     run the benchmarks; they print their figures"

venv: $(STAMP)

# Reinstalls only when pyproject.toml changes (or the environment is new).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# The PostgreSQL server binaries the tests start their own cluster with (Debian's package).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing PostgreSQL (Debian package postgresql)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# The Matrix homeserver the Matrix tests run against (Synapse, pinned, in .venv-synapse; cached).
synapse:
	@scripts/synapse.sh >/dev/null

# The browser the dashboard's tests drive: Debian's headless Chromium and its WebDriver.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		echo "Installing Chromium (Debian packages chromium, chromium-driver)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint postgres synapse chromium
	$(BIN)/pytest

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: venv
	$(BIN)/innobot db upgrade
	$(BIN)/innobot chat --demo

bench: venv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@found=0; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; found=1; \
		echo "== $$script"; PYTHONPATH=$(CURDIR) $(BIN)/python "$$script" || exit 1; \
	done; [ $$found = 1 ] || echo "no benchmarks yet (benchmarks/*.py)"
