# mlship: every check and pipeline step is a target here; the workflows call these targets,
# so `make ci` locally runs what the pull-request workflow runs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Stages run `python -m mlship.stages.<name>`; the virtualenv comes first on PATH for DVC.
export PATH := $(abspath $(BIN)):$(PATH)
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install format format-check lint typecheck security workflow-lint test data \
	repro pipeline ci bench-pipeline clean

help: ## Show this help
	@echo "usage: make <target>"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(INSTALLED) ## Create .venv with pinned runtime and dev dependencies

format: $(INSTALLED) ## Reformat the code with black
	$(BIN)/black src tests tools benchmarks

format-check: $(INSTALLED) ## Check formatting without changing files
	$(BIN)/black --check --diff --quiet src tests tools benchmarks

lint: $(INSTALLED) ## Lint with pylint and flake8
	$(BIN)/pylint --score=n src tools
	$(BIN)/flake8 src tests tools benchmarks

typecheck: $(INSTALLED) ## Type-check src with mypy --strict
	$(BIN)/mypy

security: $(INSTALLED) ## Bandit on src; dependency audit (safety with SAFETY_API_KEY, else pip-audit)
	$(BIN)/bandit -c pyproject.toml -q -r src tools
	$(BIN)/python tools/audit_deps.py

test: $(INSTALLED) ## Run the test suite (all of it, slow tests included)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

data: $(INSTALLED) ## Regenerate the example dataset byte-for-byte (matches data.dvc)
	$(BIN)/mlship data

repro: $(INSTALLED) ## Run the DVC pipeline (only stages whose inputs changed)
	$(BIN)/mlship data --missing-only
	$(BIN)/dvc repro

pipeline: repro ## Run the whole pipeline on the example and print the metrics
	$(BIN)/dvc metrics show

ci: format-check lint typecheck security test pipeline ## Everything the pull-request workflow checks

bench-pipeline: $(INSTALLED) ## Time and measure memory of the pipeline on 20k, 200k and 2M rows
	$(BIN)/python benchmarks/bench_pipeline.py

clean: ## Remove pipeline outputs (not the data, not .venv)
	rm -rf artifacts reports plots metrics.json
