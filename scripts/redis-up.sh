#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379 (starts a throwaway one, keeping nothing on disk).
set -euo pipefail
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then exit 0; fi
if ! command -v redis-server >/dev/null; then
  echo "==> installing redis-server" >&2
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
echo "==> starting redis-server on 127.0.0.1:6379" >&2
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && exit 0; sleep 0.1; done
echo "redis-server did not come up on 127.0.0.1:6379" >&2; exit 1
