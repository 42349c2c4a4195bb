#!/usr/bin/env bash
# `make run`: Airflow standalone with Vigía's DAGs, everything under the repository (gitignored).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# DAGs are unpaused below, once the API server answers: tasks started before it is up fail to report.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"   # ~2 cores: more only thrashes
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-60}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
# Where clients reach the API server: its own host, or loopback when it listens on every address.
case "$AIRFLOW__API__HOST" in
  0.0.0.0 | "") api_host=127.0.0.1 ;;
  :: | "[::]") api_host="[::1]" ;;
  \[*) api_host="$AIRFLOW__API__HOST" ;;
  *:*) api_host="[$AIRFLOW__API__HOST]" ;;  # an IPv6 address, bracketed in a URL
  *) api_host="$AIRFLOW__API__HOST" ;;
esac
api_url="http://$api_host:$AIRFLOW__API__PORT"
# Tasks report to the execution API: derived from the host and port above (Airflow's default
# stays on port 8080 whatever AIRFLOW__API__PORT says, and the tasks then fail, or reach another
# Airflow listening there). An explicit AIRFLOW__CORE__EXECUTION_API_SERVER_URL still wins.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$api_url/execution/}"
export VIGIA_FEEDS="${VIGIA_FEEDS:-$ROOT/feeds.toml}"
export VIGIA_DB="${VIGIA_DB:-$ROOT/data/vigia.duckdb}"
# Airflow starts its components as `airflow` subprocesses: the environment's bin must come first.
export PATH="$ROOT/.venv/bin:$PATH"

mkdir -p "$AIRFLOW_HOME" "$(dirname "$VIGIA_DB")"
python -m pipeline init
airflow db migrate >/dev/null
airflow dags reserialize >/dev/null 2>&1 || true

password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
cat <<INFO

Vigía is starting (Airflow standalone):
  Airflow UI     $api_url   (user admin; password below once the UI is up,
                 and in $password_file)
  DuckDB         $VIGIA_DB  (written by the pipeline)
  Analyst copy   ${VIGIA_DB%.duckdb}.analyst.duckdb  (open this one: make sql)
  Feeds          $VIGIA_FEEDS
  Stop           Ctrl-C

INFO

# Standalone runs in its own process group so that stopping it stops every component it started
# (a SIGTERM to the parent alone leaves the scheduler, dag-processor and api-server running).
setsid airflow standalone &
pid=$!
stop() {
  trap - INT TERM EXIT
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

api_up() {
  python - "$api_url" <<'PY'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"{sys.argv[1]}/api/v2/monitor/health", timeout=3)
except urllib.error.HTTPError as exc:
    sys.exit(0 if exc.code < 500 else 1)
except OSError:
    sys.exit(1)
PY
}
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || break
  if api_up; then
    # One command for the three DAGs: each `airflow` command costs about 2 s of CPU to start.
    airflow dags unpause --treat-dag-id-as-regex --yes '^vigia_(ingest|alerts|watchdog)$' >/dev/null 2>&1 || true
    echo "Airflow is up: DAGs unpaused, the first ingestion cycle starts now."
    if [ -s "$password_file" ]; then
      echo "Airflow admin password: $(python -c 'import json,sys; print(next(iter(json.load(open(sys.argv[1])).values())))' "$password_file")"
    fi
    break
  fi
  sleep 2
done
wait "$pid"
