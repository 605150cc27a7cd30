# GenAI Service Lab. `make help` lists the targets; every target sets up what is missing first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BENCHMARKS ?= ../shared/benchmarks

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export GENAI_LAB_BENCHMARKS := $(abspath $(BENCHMARKS))
export VENV

.PHONY: help setup test run lab labs labs-check lint typecheck unit integration e2e notebooks lock sync-env clean app

help:
	@echo "make test     set up what is missing, then run every test (lint, types, unit, integration, e2e, notebooks)"
	@echo "make unit     the fast tier only: no real model, server or browser (under a minute)"
	@echo "make run      set up, then execute the whole course in full mode; results in build/"
	@echo "make lab      open JupyterLab on the workbook"
	@echo "make app      set up, then serve the capstone chat app on http://127.0.0.1:$(APP_PORT)"
	@echo "make labs     regenerate labs/ from solutions/"
	@echo "make setup    create $(VENV), install the pinned packages, prepare the offline models"
	@echo "make lock     re-resolve requirements.in into requirements.txt (maintainers)"
	@echo "Options: BENCHMARKS=/path/to/benchmarks (default ../shared/benchmarks), GENAI_LAB_FAST=1"

setup:
	@scripts/setup.sh

test: setup lint typecheck labs-check unit integration e2e notebooks
	@echo "make test: all checks passed."

lint: setup
	$(PY) -m ruff check .

labs-check: setup
	$(PY) -m genai_lab.cli labs --check
	$(PY) scripts/sync_environment.py --check

typecheck: setup
	$(PY) -m mypy

# Three tiers: unit (no real model, no server, no browser; under a minute), integration (real SmolLM2
# and MiniLM, a real vLLM server, the KB rebuild, the labs), e2e (the app in a real browser).
unit: setup
	$(PY) -m pytest tests/unit

integration: setup
	$(PY) -m pytest tests/integration

e2e: setup
	$(PY) -m pytest tests/e2e

# nbval re-runs the lecture notebooks and the worked labs in fast mode and compares only the cells
# marked `# NBVAL_CHECK_OUTPUT`; volatile output is normalised by .ci/nbval_sanitize.cfg.
notebooks: setup
	GENAI_LAB_FAST=1 $(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 --sanitize-with .ci/nbval_sanitize.cfg notebooks solutions

run: setup
	$(PY) -m genai_lab.cli run

# On a shared lab server: make lab LAB_ARGS="--ip=0.0.0.0 --no-browser --port=8888"
LAB_ARGS ?=
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. $(LAB_ARGS) notebooks/00_setup.ipynb

# The capstone: the knowledge-base chat service and its page (Ctrl-C stops it).
# make app APP_PORT=8080; APP_ARGS=--fake serves the deterministic fake models (instant start).
APP_PORT ?= 8000
APP_ARGS ?=
app: setup
	$(PY) -m genai_lab.app --port $(APP_PORT) $(APP_ARGS)

labs: setup
	$(PY) -m genai_lab.cli labs

lock:
	scripts/lock_requirements.sh
	$(MAKE) sync-env

sync-env:
	$(PY) scripts/sync_environment.py

clean:
	rm -rf build .pytest_cache .ruff_cache
