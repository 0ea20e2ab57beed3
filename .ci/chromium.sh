#!/usr/bin/env bash
# Idempotent: make sure Debian's chromium is at /usr/bin/chromium (for the portal's browser tests,
# which drive it with Python Playwright; Playwright downloads no browser). Safe to run repeatedly.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version 2>/dev/null || true
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
