#!/usr/bin/env bash
# Makes sure a Docker engine and Compose v2 are installed, from Debian's own packages (run as root).
#
#   engine:  docker.io (Debian 12: 20.10, Debian 13: 26.1); its postinst is kept from starting dockerd,
#            so that scripts/compose-smoke.sh can save the firewall rules before dockerd touches them.
#   compose: the `docker compose` plugin. Debian 13's docker-compose package is Compose v2 (2.26); Debian
#            12 only has Compose v1 (1.29, which cannot read our compose file), so there the v2 package is
#            taken from Debian 13 through a private apt list (nothing is added to the system's sources;
#            the package needs only libc6 >= 2.34, which Debian 12 has).
# A no-op when both are there.
set -euo pipefail

log() { echo "==> $*" >&2; }
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes

compose_v2() { docker compose version >/dev/null 2>&1; }

if [ "$(id -u)" != 0 ]; then
  echo "docker-install: run as root (apt-get install)" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  log "installing the Docker engine from Debian's packages (docker.io)"
  apt-get update -qq
  # No service start from the package's maintainer scripts: the caller starts dockerd when it is ready.
  guard=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$guard" && chmod 0755 "$guard"
  fi
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
  [ -z "$guard" ] || rm -f "$guard"
fi

if compose_v2; then
  exit 0
fi

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true; }
apt-cache policy docker-compose-v2 >/dev/null 2>&1 || apt-get update -qq
for package in docker-compose-v2 docker-compose-plugin docker-compose; do
  version=$(candidate "$package")
  case "$version" in
    "" | 0:1.* | 1.*) continue ;;
  esac
  log "installing Compose v2 from Debian's packages ($package $version)"
  apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  compose_v2 && exit 0
done

# Debian 12: Compose v2 is Debian 13's docker-compose package.
log "installing Compose v2 from Debian 13's docker-compose package (Debian 12 has only Compose v1)"
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# The Debian mirror this host already uses (deb822 .sources or one-line sources.list), or EHPC_DEBIAN_MIRROR.
debian_mirror() {
  { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
    sed -n -e 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' -e 's/^deb  *\(http[^ ]*\/debian\)\/* .*/\1/p' |
    head -n 1
}
mirror=${EHPC_DEBIAN_MIRROR:-$(debian_mirror)}
if [ -z "$mirror" ]; then
  echo "docker-install: no Debian mirror found in /etc/apt; set EHPC_DEBIAN_MIRROR" >&2
  exit 1
fi
echo "deb [signed-by=$keyring] $mirror trixie main" > "$lists/sources.list"
mkdir -p "$lists/state/lists/partial" "$lists/cache/archives/partial"
apt_private=(-o "Dir::Etc::SourceList=$lists/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$lists/state/lists" -o "Dir::Cache=$lists/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_private[@]}" update -qq
(cd "$lists" && apt-get "${apt_private[@]}" download docker-compose >/dev/null)
dpkg -i "$lists"/docker-compose_*.deb >/dev/null
compose_v2 || { echo "docker-install: 'docker compose' still does not run" >&2; exit 1; }
