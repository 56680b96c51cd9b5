# Development entry points. Every target builds .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test tools lint format bench check mutation pin-requirements

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m shared demo

tools:
	.ci/install-tools

test: $(VENV)/.installed tools
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Mutation testing of the rule and parsing modules (slow; not part of `make test`). See docs/mutation.md.
mutation: $(VENV)/.installed tools
	$(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_check.py $(BENCH_ARGS)

check: $(VENV)/.installed
	$(PY) -m shared check

# Rewrite requirements.txt from the tested environment: the Direct list plus everything it needs, pinned.
pin-requirements: $(VENV)/.installed
	$(PY) .ci/pin_requirements.py
