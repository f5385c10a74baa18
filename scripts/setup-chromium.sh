#!/usr/bin/env bash
# Makes Chromium available for the dashboard's browser tests (test/e2e/web, driven by playwright-core with
# executablePath /usr/bin/chromium): installs Debian's `chromium` only when it is missing, so it is fast
# when it is there. Called by .ci/run.
set -euo pipefail

log() { echo "setup-chromium: $*" >&2; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  log "chromium is missing and this is not root: install it (apt-get install -y chromium)"
  exit 1
fi
log "installing chromium"
export DEBIAN_FRONTEND=noninteractive
# Update the lists only when the package cannot be found in what is cached.
if ! apt-get install -y --no-install-recommends chromium >/tmp/slipway-apt-chromium.log 2>&1; then
  apt-get update >>/tmp/slipway-apt-chromium.log 2>&1
  apt-get install -y --no-install-recommends chromium >>/tmp/slipway-apt-chromium.log 2>&1 || {
    log "apt-get install chromium failed; see /tmp/slipway-apt-chromium.log"
    exit 1
  }
fi
/usr/bin/chromium --version >&2
