#!/usr/bin/env bash
# Creates .venv and installs the pinned dependencies and the project; a no-op when nothing changed.
# pip's own output (warnings about this machine's package sources, setuptools' notes) goes to
# .venv/install.log, shown only when an install fails: a first demo run prints two lines, not pip's noise.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
log=.venv/install.log
inputs=(requirements.lock pyproject.toml)
if [ -f package-lock.json ]; then inputs+=(package-lock.json); fi
want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    echo "bootstrap: '$*' failed; the end of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing dependencies (pinned in requirements.lock; pip's output: $log)" >&2
  : >"$log"
  pip=(.venv/bin/python -m pip install --disable-pip-version-check --no-input)
  quietly "${pip[@]}" --upgrade pip
  quietly "${pip[@]}" -r requirements.lock
  quietly "${pip[@]}" --no-deps -e .
  if [ -f package-lock.json ]; then
    echo "==> installing the contract-test mocks (npm ci)" >&2
    quietly npm ci --no-audit --no-fund
  fi
  echo "$want" > "$stamp"
fi
