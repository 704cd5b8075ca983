#!/usr/bin/env bash
# The whole test suite: lint, types, tests (needs a Redis on 127.0.0.1:6379; scripts/redis-up.sh starts one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/redis-up.sh
scripts/browser-up.sh
echo "==> ruff" >&2
.venv/bin/ruff check worker integrations tests bench
.venv/bin/ruff format --check worker integrations tests bench
echo "==> mypy --strict" >&2
.venv/bin/mypy
echo "==> pytest" >&2
exec .venv/bin/pytest "$@"
