#!/bin/sh
# Container entrypoint: turn Compose/Swarm/Kubernetes secret files into the variables the app reads, then
# exec the command. For every NAME_FILE=/path in the environment, NAME is set from the file's content
# (trailing newlines dropped) unless NAME is already non-empty. An empty file, or no file at all, unsets
# both NAME and NAME_FILE: an optional secret left empty in .env is then simply not configured, whether
# Compose wrote it as an empty file (2.26) or wrote no file (2.40), and a required one is reported by the
# app by its name (`SLACK_BOT_TOKEN is not set`). A file that exists but cannot be read is an error
# (exit 64). This covers variables read outside our settings too (ALIBABA_CLOUD_* are read by the Alibaba
# credentials library itself). No value is ever printed.
set -eu
for name in $(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)_FILE=.*$/\1/p'); do
  file=$(printenv "${name}_FILE")
  if [ -n "$(printenv "$name" || true)" ]; then
    continue
  fi
  if [ ! -e "$file" ]; then
    unset "$name" "${name}_FILE"
    continue
  fi
  if [ ! -r "$file" ] || [ -d "$file" ]; then
    echo "docker-entrypoint: ${name}_FILE names ${file}, which this user (uid $(id -u)) cannot read" >&2
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
