#!/usr/bin/env bash
# Redis server binary for the Celery end-to-end test (tests/test_e2e.py), on a fresh Debian or Ubuntu
# machine. Idempotent: does nothing when redis-server is already on the PATH. The test starts its own
# server on a free port of 127.0.0.1 in a temporary directory, so no service needs to run.
set -euo pipefail

if command -v redis-server >/dev/null; then
  echo "Redis already installed: $(redis-server --version)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The package may start a service where an init system runs; the test never uses it (its own port).
$sudo apt-get install -y -qq --no-install-recommends redis-server
command -v redis-server >/dev/null
echo "Redis installed: $(redis-server --version)"
