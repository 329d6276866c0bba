# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv and installs what is missing (a stamp file keeps it fast when nothing is).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint chaos bench install clean

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

test: $(STAMP)
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
