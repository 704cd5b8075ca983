#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser test (tests/integrations/slack/test_standin_browser.py).
# Playwright drives it; no browser is ever downloaded by Playwright itself. Fails loudly when it can't install.
set -euo pipefail
CHROMIUM=${EHPC_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
echo "==> installing chromium (Debian's package, for the browser test)" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and this user can't apt-get install it: run 'sudo apt-get install chromium'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji fonts-dejavu-core >/dev/null
if [ ! -x "$CHROMIUM" ]; then echo "chromium did not install to $CHROMIUM" >&2; exit 1; fi
