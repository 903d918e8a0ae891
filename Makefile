# eventweave: `make demo` and `make test` are the two commands a fresh clone needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo tour test lint typecheck unit bench synth clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local,cdk,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

# The CDK CLI, pinned to v2 (npm's aws-cdk 3.0.0 rejects current cloud assemblies).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(STAMP) node_modules/.package-lock.json

# The four example services on the embedded local cloud; exits 0 only if every scenario reached its end state.
demo: install
	$(PY) -m examples.demo

# The handler runtime alone, against moto (no local cloud): poison, retries, duplicates, loops, fan-in.
tour: install
	$(PY) -m examples.tour

lint: install
	$(VENV)/bin/ruff check eventweave tests bench examples app.py
	$(VENV)/bin/ruff format --check eventweave

typecheck: install
	$(VENV)/bin/mypy eventweave examples

unit: install
	$(VENV)/bin/pytest -q -n 2 --dist loadfile

test: lint typecheck unit

synth: install
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH CDK_HOME=$(CURDIR)/.cdk_home npx cdk synth --no-notices -q

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
