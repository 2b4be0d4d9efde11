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
EFORTH_TESTS := programs/eforth/tests.fth

.PHONY: run test test-serial lint docs wheel-check bench bench-quick eforth eforth-tests perf-docs perf-record clean

$(STAMP): pyproject.toml
ifndef VIRTUAL_ENV
	$(PYTHON) -m venv $(VENV)
endif
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,fast,onnx,prove,prove2,plot,cluster,docs]' || $(PY) -m pip install -q -e '.[dev,onnx,prove,prove2,plot,cluster,docs]'
	$(PY) -c 'from mlpvm.engines.compiled import warm; warm()'  # compile the numba kernel once, now
	@touch $@

run: $(STAMP)
	$(PY) -m mlpvm run programs/hello.sq

# In parallel, one worker per processor (pytest-xdist): about 6 minutes instead of 10 on 2 cores. --dist
# loadscope keeps each test module in one worker, so a module-scoped fixture is built once.
# `make test-serial` (or `python -m pytest`) runs them one after another.
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadscope

test-serial: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check mlpvm tests
	$(PY) -m ruff format --check mlpvm tests

# The documentation site (docs/mkdocs/mkdocs.yml) into site/; strict, so a broken link or a page left out fails.
docs: $(STAMP)
	$(PY) -m mkdocs build -q -f docs/mkdocs/mkdocs.yml

# The package as a user gets it: a wheel (built from the sdist), installed without extras into a fresh virtual
# environment outside the checkout, verifies its named programs and plants mutants (the smallest configuration)
# from there, so nothing it reads may come from the repository.
wheel-check: $(STAMP)
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m build -q -o "$$tmp/dist" .; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q "$$tmp"/dist/mlpvm-*.whl; \
	cd "$$tmp"; \
	venv/bin/mlpvm verify --named; \
	venv/bin/mlpvm verify --mutants --machine paper --bits 4 --cells 4 --slots 2

bench: $(STAMP)  # a few minutes: every engine, the reference, scaling to M = 8192, the eForth boot
	$(PY) -m mlpvm bench --eforth $(EFORTH)

bench-quick: $(STAMP)  # well under a minute
	$(PY) -m mlpvm bench --quick

eforth: $(STAMP)  # eForth boots on the network, then computes "2 2 + . cr": 13.9 million passes, minutes
	$(PY) -m mlpvm bench --eforth $(EFORTH) --eforth-line "2 2 + . cr" --eforth-only

# eForth's own test suite (programs/eforth/README.md) typed into howerj's subleq.dec on the network: 5.9 billion
# passes, hours. The output must be the reference's (programs/eforth/tests.out) byte for byte, [ALL PASSED] in it.
eforth-tests: $(STAMP)
	@set -eu; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; start=$$(date +%s); \
	$(PY) -m mlpvm run programs/external/howerj-subleq/subleq.dec --cells 65536 \
		--input-file $(EFORTH_TESTS) --max-steps 0 -v > "$$out"; \
	echo "eforth-tests: $$(( $$(date +%s) - start )) s on the network" >&2; \
	cmp "$$out" $(EFORTH_TESTS:.fth=.out); \
	tr -d '\r' < "$$out" | grep -qx '\[ALL PASSED\] '; \
	echo "eforth-tests: [ALL PASSED], the reference's output byte for byte" >&2

# docs/performance.md's tables from the stored runs in benchmarks/ (a test checks the page against them).
perf-docs: $(STAMP)
	$(PY) benchmarks/perf_docs.py

perf-record: $(STAMP)  # a --quick run with eForth's line, stored in benchmarks/ under its date and load; then perf-docs
	$(PY) benchmarks/perf_docs.py --record

clean:
	rm -rf .venv .installed-* build site *.egg-info .pytest_cache .hypothesis
