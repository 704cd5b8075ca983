#!/usr/bin/env bash
# Chooses the two base images of the stack (Python for the image build, Redis) and makes sure both exist
# in the local Docker engine, building them from Debian's packages when no image registry answers
# (offline hosts, firewalls, mainland China). Prints the choice for the caller to export:
#
#   eval "$(scripts/base-images.sh)"     # EHPC_PYTHON_IMAGE=…  EHPC_REDIS_IMAGE=…
#
# For each: the image named by EHPC_PYTHON_IMAGE / EHPC_REDIS_IMAGE (default the public python:3.11-slim
# and redis:7.4-alpine) when it is present locally or `docker pull` gets it; otherwise ours, built once
# from a Debian bookworm root filesystem made by mmdebstrap and `docker import`ed:
#   ehpc-bridge-base/python:3.11-bookworm  python3, python3-venv, ca-certificates, tzdata, netbase (Python 3.11)
#   ehpc-bridge-base/redis:7.0-bookworm    redis-server (Debian's Redis 7.0), running as user redis in /data
# The Python base also trusts this host's extra CA certificates (/usr/local/share/ca-certificates, e.g.
# a TLS-inspecting proxy's) and points pip at the system bundle, so that pip inside the image build
# reaches PyPI as pip on this host does; they are public certificates, no secret, and the image is local.
set -euo pipefail
wanted_python=${EHPC_PYTHON_IMAGE:-python:3.11-slim}
wanted_redis=${EHPC_REDIS_IMAGE:-redis:7.4-alpine}
python_image=ehpc-bridge-base/python:3.11-bookworm
redis_image=ehpc-bridge-base/redis:7.0-bookworm
suite=bookworm
log() { echo "==> $*" >&2; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

pulled() {
  log "pulling $1"
  timeout "${EHPC_PULL_TIMEOUT:-60}" docker pull -q "$1" >/dev/null 2>&1
}

available() { have "$1" || { [[ $1 != ehpc-bridge-base/* ]] && pulled "$1"; }; }

rootfs() {  # rootfs TARBALL PACKAGES [mmdebstrap options]
  local tarball=$1 packages=$2
  shift 2
  mmdebstrap --quiet --variant=apt --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$@" "$suite" "$tarball"
}

build_python() {
  local work=$1 certs=()
  for cert in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$cert" ] && certs+=(--customize-hook="upload $cert /usr/local/share/ca-certificates/$(basename "$cert")")
  done
  rootfs "$work/python.tar" passwd,python3,python3-venv,ca-certificates,tzdata,netbase "${certs[@]}" \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1'
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    "$work/python.tar" "$python_image" >/dev/null
}

build_redis() {
  local work=$1
  rootfs "$work/redis.tar" redis-server \
    --customize-hook='chroot "$1" install -d -o redis -g redis -m 0750 /data'
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'USER redis' --change 'WORKDIR /data' --change 'VOLUME /data' --change 'EXPOSE 6379' \
    --change 'CMD ["redis-server"]' \
    "$work/redis.tar" "$redis_image" >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pids=()
for kind in python redis; do
  wanted_var=wanted_$kind own_var=${kind}_image
  if available "${!wanted_var}"; then
    printf -v "$own_var" %s "${!wanted_var}"
    continue
  fi
  have "${!own_var}" && continue
  log "no registry has ${!wanted_var}: building ${!own_var} from Debian $suite packages (mmdebstrap)"
  command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends mmdebstrap >/dev/null
  "build_$kind" "$work" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" = 0 ] || { echo "base-images: a base image build failed" >&2; exit 1; }
echo "export EHPC_PYTHON_IMAGE=$python_image EHPC_REDIS_IMAGE=$redis_image"
