# Vigía — every command a user needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
# uv from the PATH, or installed with pip into .tools/ on a machine that lacks it.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
# Every task, CLI call, collect child and Airflow component is a fresh Python process, so cached
# bytecode decides their start-up: importing Airflow, DuckDB and trafilatura costs 4.1 s of CPU from
# source and 1.6 s from .pyc files. Some machine images (this one among them) set
# PYTHONDONTWRITEBYTECODE, which would make every process compile them again: `uv sync` compiles the
# dependencies once, and the project's own modules are cached as they are first imported.
unexport PYTHONDONTWRITEBYTECODE

# Runtime locations (all gitignored). Absolute, because Airflow's tasks run elsewhere.
ROOT := $(CURDIR)
export VIGIA_FEEDS ?= $(ROOT)/feeds.toml
export VIGIA_DB ?= $(ROOT)/data/vigia.duckdb
# Which database `make sql` and `make report` read: DB=demo for the demo's, DB=path/to/file.duckdb
# for another; by default the pipeline's (or the demo's, until a cycle has run).
DB ?=
DB_FLAG := $(if $(DB),--db $(DB))
# `make bench MODE=freshness|scale|publication`: issue 20's modes (README, Performance); ARGS= more options.
BENCH_FLAGS := $(if $(MODE),--$(MODE)) $(ARGS)
# The report's period: FROM=2026-11-01 TO=2026-11-30 (Peru days; default the last 30 days).
REPORT_FLAGS := $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO))

.PHONY: help venv run once demo test test-fast sql report bench lint docs clean

help:
	@echo "make run    start Airflow (standalone) with the ingestion DAG unpaused: a cycle now, then a run every minute"
	@echo "make test   run the whole test suite (what CI runs), on every core"
	@echo "make test-fast  the unit tier, for the edit loop (no Airflow, no cycles, no corpus: under a minute)"
	@echo "make once   run one cycle from the command line (no scheduler)"
	@echo "make demo   offline demo: serve the sample sites on 127.0.0.1, one cycle, print a trend query"
	@echo "make sql    the DuckDB shell, read-only, on the analyst copy (DB=demo: the demo's database)"
	@echo "make report the HTML report of the last 30 days under data/report/ (DB=demo, FROM=, TO=)"
	@echo "make bench  run the benchmark (figures printed and written to bench-results/);"
	@echo "            MODE=freshness, MODE=scale or MODE=publication for the latency, scale and publication ones"
	@echo "make lint   ruff and mypy"
	@echo "make docs   the manual (docs/) as a website in site/, built offline with mkdocs --strict"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# The environment, exactly as locked in uv.lock.
.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

venv: .venv/.synced

run: venv
	@bash scripts/run_airflow.sh

once: venv
	$(PY) -m pipeline run

demo: venv
	$(PY) -m pipeline demo

# The whole suite on every core (pytest-xdist). loadgroup hands out the tests one at a time, except
# the tests running Airflow in their process, one group for one worker (AIRFLOW_IN_PROCESS in
# tests/conftest.py), handed out first; the two end-to-end tests, collected first, start at once on
# the two other workers (each its own Airflow, home and ports), and the rest fills in, the unit tier
# last (its short tests even out the workers' ends). One worker more than cores: the end-to-end
# workers mostly wait on Airflow's processes (-n 4 measured slower: more CPU lost to contention than
# waits filled).
TEST_WORKERS := $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The unit tier for the edit loop: what the markers of pyproject.toml leave (README, "Tests in tiers").
FAST_TIER := not (e2e or airflow or integration or corpus)
test-fast: venv
	$(PY) -m pytest -n auto -m "$(FAST_TIER)"

sql: venv
	@$(PY) -m pipeline sql $(DB_FLAG)

report: venv
	$(PY) -m pipeline report $(DB_FLAG) $(REPORT_FLAGS)

bench: venv
	$(PY) -m benchmarks.run $(BENCH_FLAGS)

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# The manual as a website (mkdocs.yml); --strict fails on a broken link or anchor.
docs: venv
	.venv/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf .venv .tools .airflow data/staging site
