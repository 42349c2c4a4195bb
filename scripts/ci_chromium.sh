#!/usr/bin/env bash
# Headless Chromium for tests/test_report.py (the report opened with the network off), on a fresh
# Debian or Ubuntu machine. Idempotent: does nothing when a chromium is already installed.
set -euo pipefail

if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  echo "Chromium already installed: $(command -v chromium || command -v chromium-browser)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium
echo "Chromium installed: $(command -v chromium)"
