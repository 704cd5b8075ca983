#!/usr/bin/env bash
# Creates .venv and installs the pinned dependencies and the project; a no-op when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
want=$(cat requirements.lock pyproject.toml package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing dependencies (pinned in requirements.lock)" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  if [ -f package-lock.json ]; then
    echo "==> installing the contract-test mocks (npm ci)" >&2
    npm ci --silent --no-audit --no-fund
  fi
  echo "$want" > "$stamp"
fi
