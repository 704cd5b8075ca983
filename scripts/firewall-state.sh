#!/usr/bin/env bash
# Saves or restores this host's packet-filter rules and IP forwarding, around a run of dockerd (which adds
# its own chains, NAT rules and a FORWARD policy, and turns on net.ipv4.ip_forward).
#
#   scripts/firewall-state.sh save DIR      # before dockerd starts
#   scripts/firewall-state.sh restore DIR   # after dockerd stopped
#
# Every table of iptables and ip6tables is saved, empty ones too, so that a restore also empties the
# tables dockerd filled; with the nft tool present, the whole nftables ruleset is saved and restored
# instead (it holds the iptables-nft tables as well).
set -euo pipefail
action=${1:?save or restore}
dir=${2:?directory}
tables=(filter nat mangle raw)

save_xtables() {
  local tool=$1 out=$2 table
  command -v "$tool-save" >/dev/null || return 0
  : > "$out"
  for table in "${tables[@]}"; do
    "$tool-save" -t "$table" >> "$out" 2>/dev/null || true
  done
}

restore_xtables() {
  local tool=$1 saved=$2
  [ -s "$saved" ] && command -v "$tool-restore" >/dev/null || return 0
  "$tool-restore" < "$saved"
}

normal() { grep -v '^#' "$1" | sed 's/\[[0-9]*:[0-9]*\]//g'; }

case "$action" in
  save)
    mkdir -p "$dir"
    sysctl -n net.ipv4.ip_forward > "$dir/ip_forward" 2>/dev/null || true
    if command -v nft >/dev/null; then
      nft list ruleset > "$dir/nft.rules"
    else
      save_xtables iptables "$dir/iptables.rules"
      save_xtables ip6tables "$dir/ip6tables.rules"
    fi
    ;;
  restore)
    if [ -f "$dir/nft.rules" ]; then
      { echo "flush ruleset"; cat "$dir/nft.rules"; } | nft -f -
    else
      restore_xtables iptables "$dir/iptables.rules"
      restore_xtables ip6tables "$dir/ip6tables.rules"
    fi
    if [ -s "$dir/ip_forward" ]; then
      sysctl -q -w "net.ipv4.ip_forward=$(cat "$dir/ip_forward")"
    fi
    # Check: the rules now are the rules saved (packet counters and comments aside).
    "$0" save "$dir/now"
    for rules in "$dir"/*.rules "$dir/ip_forward"; do
      [ -e "$rules" ] || continue
      if ! diff <(normal "$rules") <(normal "$dir/now/${rules##*/}") >/dev/null; then
        echo "firewall-state: ${rules##*/} differs from what was saved after the restore" >&2
        exit 1
      fi
    done
    echo "firewall-state: rules and IP forwarding restored as found" >&2
    ;;
  *)
    echo "usage: $0 save|restore DIR" >&2
    exit 64
    ;;
esac
