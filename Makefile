# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv and installs what is missing (a stamp file keeps it fast when nothing is).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint chaos bench install browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Ports: `make run API_PORT=18000 TEMPORAL_PORT=17233` (UI_PORT defaults to TEMPORAL_PORT + 1000).
run: $(STAMP)
	$(BIN)/daiban run $(if $(API_PORT),--api-port $(API_PORT),) \
	  $(if $(TEMPORAL_PORT),--temporal-port $(TEMPORAL_PORT),) $(if $(UI_PORT),--ui-port $(UI_PORT),)

# The console's browser tests drive the system's Chromium (Debian's package; Playwright cannot
# download browsers here). Installed where we can (root with apt-get); otherwise one line says what
# to install — the tests are never skipped.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ] && fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null && exit 0; \
	fi; \
	echo "make test needs Chromium and CJK fonts: apt-get install -y chromium fonts-noto-cjk"; exit 1

test: $(STAMP) browser
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Faults injected while requests are in flight (RELIABILITY.md); `python -m chaos --ci` is the
# bounded form that CI runs through tests/chaos.
chaos: $(STAMP)
	$(BIN)/python -m chaos

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache
