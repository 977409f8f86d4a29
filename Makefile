# The two commands of the README:  `make demo`  and  `make test`.
# Both create .venv and install the project with its dev extras on first use (and again when
# pyproject.toml changes); nothing else needs installing by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck unit demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# The test command: lint, strict types, then every test (unit, integration, end-to-end).
test: lint typecheck
	$(BIN)/pytest

# The demo: starts the embedded broker and valkey-server and a worker, streams 100,000 generated usage
# records on the example catalog through them and prints the report (`make demo RECORDS=20000` for less).
demo: $(STAMP)
	$(BIN)/rater demo $(if $(RECORDS),--records $(RECORDS))

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
