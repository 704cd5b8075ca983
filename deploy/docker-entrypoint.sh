#!/bin/sh
# Container entrypoint: turn Compose/Swarm/Kubernetes secret files into the variables the app reads, then
# exec the command. For every NAME_FILE=/path in the environment, NAME is set from the file's content
# (trailing newlines dropped) unless NAME is already non-empty; an empty file unsets both NAME and NAME_FILE,
# so an optional token (SLACK_APP_TOKEN) can be an empty secret and the app sees it as not configured. This covers variables read outside our settings
# too (ALIBABA_CLOUD_* are read by the Alibaba credentials library itself). No value is ever printed.
set -eu
for name in $(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)_FILE=.*$/\1/p'); do
  file=$(printenv "${name}_FILE")
  if [ -n "$(printenv "$name" || true)" ]; then
    continue
  fi
  if [ ! -r "$file" ]; then
    echo "docker-entrypoint: ${name}_FILE names ${file}, which is not a readable file" >&2
    exit 64
  fi
  value=$(cat "$file")
  if [ -n "$value" ]; then
    export "$name=$value"
  else
    unset "$name" "${name}_FILE"
  fi
done
exec "$@"
