#!/usr/bin/env bash
# The demo: a simulated E-HPC, a worker and beat, and the notifications they produce (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/ehpc-bridge demo "$@"
