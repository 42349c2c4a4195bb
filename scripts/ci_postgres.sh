#!/usr/bin/env bash
# PostgreSQL server binaries for tests/test_lake.py, on a fresh Debian or Ubuntu machine.
# Idempotent: does nothing when a server is already installed. The tests start their own server
# on 127.0.0.1 in a temporary directory (as the `postgres` user when run as root), so no cluster
# or service needs to be configured or running.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "PostgreSQL already installed: $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# postgresql: the server (initdb, pg_ctl) and the `postgres` user; util-linux: runuser (Essential
# on Debian, listed for minimal images).
$sudo apt-get install -y -qq --no-install-recommends postgresql util-linux
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
id postgres >/dev/null
echo "PostgreSQL installed: $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)"
