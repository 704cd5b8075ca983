#!/usr/bin/env bash
# The Compose stack for real: the image built, the demo profile up, a task through the whole path.
#
#   scripts/compose-smoke.sh        # as root, on Debian 12 or 13 (CI runs it from .ci/run)
#
# 1. install   Docker engine + Compose v2 from Debian's packages when missing (scripts/docker-install.sh)
# 2. dockerd   started when not running, after this host's firewall rules are saved
# 3. bases     the Python and Redis base images: pulled, or made from Debian's packages when no registry
#              answers (scripts/base-images.sh)
# 4. build     the project image (docker compose build)
# 5. up        the demo profile (simulator, Slack stand-in, Redis, both workers, beat, slack-app), every
#              healthcheck passing
# 6. deliver   a simulated task's message reaches the Slack stand-in (worker-poll → worker-deliver)
# 7. scale     worker-deliver to 2 replicas, both healthy
# 8. restart   a task started in the simulator, shown in Slack, then Redis restarted while it runs: the
#              task still reaches Slack exactly once, with its final status and one final reply; the
#              stand-in's web page shows it; no container was restarted by Docker (no crash loop)
# 9. down      docker compose down -v; dockerd stopped and the firewall rules restored if this run
#              started dockerd (always, also on failure)
# Prints the seconds each phase took. Idempotent: a second run reuses the installed packages and the
# images (the build is cached). The stand-in is read over HTTP (scripts/compose-smoke-probe.py).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "==> $*" >&2; }
phases=()
phase_started=0
phase() {  # phase NAME: ends the previous phase's clock, starts NAME's
  local now
  now=$(date +%s.%N)
  if [ -n "${phase_name:-}" ]; then
    phases+=("$(awk -v name="$phase_name" -v t="$now" -v t0="$phase_started" \
      'BEGIN { printf "%-8s %6.1f s", name, t - t0 }')")
  fi
  phase_name=${1:-}
  phase_started=$now
  [ -z "$phase_name" ] || log "[$phase_name] ${2:-}"
}
report() {
  phase ""
  echo "compose-smoke timings:" >&2
  printf '  %s\n' "${phases[@]}" >&2
  awk -v t="$(date +%s.%N)" -v t0="$run_started" 'BEGIN { printf "  %-8s %6.1f s\n", "total", t - t0 }' >&2
}
run_started=$(date +%s.%N)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

state=$(mktemp -d)
started_dockerd=
compose=(docker compose --env-file .env.example --profile demo)
export COMPOSE_PROJECT_NAME=ehpc-smoke
# The demo's own settings (.env.example), quicker: polls every 3 s, edits every second, own loopback ports.
export EHPC_NETWORK=ehpc-smoke EHPC_NETWORK_EXTERNAL=false EHPC_IMAGE=ehpc-bridge:local \
  EHPC_POLL_INTERVAL=3 EHPC_ARCHIVE_INTERVAL=15 EHPC_SLACK_EDIT_INTERVAL=1 EHPC_LOG_FORMAT=plain
SLACK_STANDIN_PORT=$(free_port) EHPC_SIMULATOR_PORT=$(free_port) SLACK_APP_PORT=$(free_port)
export SLACK_STANDIN_PORT EHPC_SIMULATOR_PORT SLACK_APP_PORT
channel=ehpc-demo
standin=http://127.0.0.1:$SLACK_STANDIN_PORT/api/
simulator=http://127.0.0.1:$EHPC_SIMULATOR_PORT/
probe() { python3 scripts/compose-smoke-probe.py "$@"; }
no_restarts() {  # no container of the stack was restarted by its restart policy (a crash loop)
  local restarted
  restarted=$("${compose[@]}" ps -aq | xargs docker inspect --format '{{.Name}} {{.RestartCount}}' |
    awk '$2 != 0')
  [ -z "$restarted" ] || { echo "restarted by Docker (name, count):" >&2; echo "$restarted" >&2; return 1; }
}
quiet() {  # quiet COMMAND…: its output only when it fails (compose's progress lines are many)
  "$@" > "$state/quiet.log" 2>&1 || { local status=$?; cat "$state/quiet.log" >&2; return "$status"; }
}

cleanup() {
  local status=$?
  trap - EXIT
  if [ "$status" != 0 ] && docker info >/dev/null 2>&1; then
    echo "---- compose ps and the last log lines (the run failed) ----" >&2
    "${compose[@]}" ps -a >&2 || true
    "${compose[@]}" logs --no-color --tail 40 >&2 || true
  fi
  phase down "docker compose down -v"
  if docker info >/dev/null 2>&1; then
    "${compose[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  fi
  if [ -n "$started_dockerd" ]; then
    log "stopping the dockerd this run started; restoring the firewall rules and IP forwarding"
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    ip link delete docker0 2>/dev/null || true
    scripts/firewall-state.sh restore "$state/firewall"
  fi
  rm -rf "$state"
  report
  if [ "$status" = 0 ]; then echo "compose-smoke: OK" >&2; else echo "compose-smoke: FAILED" >&2; fi
  exit "$status"
}
trap cleanup EXIT

phase install "Docker engine and Compose from Debian's packages, if missing"
scripts/docker-install.sh
docker --version >&2
docker compose version >&2

phase dockerd "a running Docker engine"
if ! docker info >/dev/null 2>&1; then
  scripts/firewall-state.sh save "$state/firewall"
  setsid dockerd > /var/log/ehpc-smoke-dockerd.log 2>&1 < /dev/null &
  started_dockerd=$!
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/ehpc-smoke-dockerd.log >&2; exit 1; }
fi
docker info --format 'engine {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}' >&2

phase bases "Python and Redis base images"
eval "$(scripts/base-images.sh)"
log "bases: $EHPC_PYTHON_IMAGE, $EHPC_REDIS_IMAGE"

phase build "the project image"
quiet "${compose[@]}" build worker-poll

phase up "the demo profile, every healthcheck passing"
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
quiet "${compose[@]}" up -d --no-build --wait --wait-timeout 180
"${compose[@]}" ps --format 'table {{.Service}}\t{{.Status}}' >&2
no_restarts

phase deliver "a simulated task reaches the Slack stand-in"
probe delivered "$standin" "$channel" 90

phase scale "worker-deliver scaled to 2"
quiet "${compose[@]}" up -d --no-build --no-recreate --scale worker-deliver=2 --wait --wait-timeout 120
replicas=$("${compose[@]}" ps --status running --quiet worker-deliver | wc -l)
[ "$replicas" = 2 ] || { echo "worker-deliver: $replicas replicas running, expected 2" >&2; exit 1; }
log "worker-deliver: 2 replicas healthy"

phase restart "Redis restarted while a task runs: nothing lost, nothing twice"
# 4 steps of 10 s: long enough to span the restart, short enough to finish on its own.
key=$(probe start-task "$simulator" ehpc-hz-demo0003 4 10)
probe shown "$standin" "$channel" "$key" 30
quiet "${compose[@]}" restart --timeout 20 redis
probe running "$simulator" "$key"
log "Redis restarted; waiting for every service to be healthy again and the task to finish"
quiet "${compose[@]}" up -d --no-build --no-recreate --scale worker-deliver=2 --wait --wait-timeout 120
probe final "$standin" "$channel" "$key" 120
probe unique "$standin" "$channel"
probe page "http://127.0.0.1:$SLACK_STANDIN_PORT/" "$channel" "$key"
no_restarts
log "no container was restarted by Docker"
