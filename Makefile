# Two commands matter: `make run` (a program executing on the network) and `make test`.
# Outside an active virtual environment both create .venv and install the project into it.

PYTHON ?= python3
ifdef VIRTUAL_ENV
PY := python
STAMP := .installed-$(notdir $(VIRTUAL_ENV))
else
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
endif

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
ifndef VIRTUAL_ENV
	$(PYTHON) -m venv $(VENV)
endif
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,fast]' || $(PY) -m pip install -q -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(PY) -m mlpvm run programs/hello.sq

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check mlpvm tests
	$(PY) -m ruff format --check mlpvm tests

bench: $(STAMP)
	$(PY) -m mlpvm bench

clean:
	rm -rf .venv .installed-* build *.egg-info .pytest_cache .hypothesis
