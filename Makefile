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

EFORTH := programs/external/howerj-subleq-vhdl/eforth-8k.dec

.PHONY: run test lint bench bench-quick eforth clean

$(STAMP): pyproject.toml
ifndef VIRTUAL_ENV
	$(PYTHON) -m venv $(VENV)
endif
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,fast]' || $(PY) -m pip install -q -e '.[dev]'
	$(PY) -c 'from mlpvm.engines.compiled import warm; warm()'  # compile the numba kernel once, now
	@touch $@

run: $(STAMP)
	$(PY) -m mlpvm run programs/hello.sq

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check mlpvm tests
	$(PY) -m ruff format --check mlpvm tests

bench: $(STAMP)  # a few minutes: every engine, the reference, scaling to M = 8192, the eForth boot
	$(PY) -m mlpvm bench --eforth $(EFORTH)

bench-quick: $(STAMP)  # well under a minute
	$(PY) -m mlpvm bench --quick

eforth: $(STAMP)  # eForth boots on the network, then computes "2 2 + . cr": 13.9 million passes, minutes
	$(PY) -m mlpvm bench --eforth $(EFORTH) --eforth-line "2 2 + . cr" --eforth-only

clean:
	rm -rf .venv .installed-* build *.egg-info .pytest_cache .hypothesis
