"""Shared fixtures: a local web of sample news sites, settings pointing at temporary files,
and Airflow configured (before anything imports it) to use a throw-away home and ``dags/``."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from pathlib import Path

import hypothesis
import pytest

REPO = Path(__file__).resolve().parent.parent

# Airflow reads its configuration when first imported: set it before any test imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="vigia-airflow-")
os.environ.update(
    AIRFLOW_HOME=_AIRFLOW_HOME,
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
)
# Tests never take settings from the developer's shell.
for _name in [k for k in os.environ if k.startswith("VIGIA_")]:
    del os.environ[_name]

# Hypothesis (tests/test_fuzz.py): ``ci``, the default, is sized for every run of the suite;
# HYPOTHESIS_PROFILE=deep (or --hypothesis-profile=deep) tries ten times as many examples.
hypothesis.settings.register_profile("ci", max_examples=150, deadline=None)
hypothesis.settings.register_profile("deep", max_examples=1500, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from pipeline.localweb import LocalWeb, sample_feeds_toml, sample_site  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def sample_web():
    """The repository's sample outlets served on 127.0.0.1 (a fresh server per test)."""
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base))
        yield web


def make_settings(tmp_path: Path, feeds_toml: str, **overrides) -> Settings:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(feeds_toml, encoding="utf-8")
    values = dict(
        feeds_path=feeds,
        db_path=tmp_path / "vigia.duckdb",
        allow_networks=LOOPBACK,
        workers=2,
        db_lock_timeout=10.0,
    )
    values.update(overrides)
    return Settings.from_env(env={}, **values)


@pytest.fixture
def sample_settings(tmp_path, sample_web) -> Settings:
    """Settings for a cycle over the sample web, into a database under tmp_path."""
    return make_settings(tmp_path, sample_feeds_toml(sample_web.base))


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite under a temporary AIRFLOW_HOME), created once."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


def run_cli(settings: Settings, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    """``python -m pipeline <args>`` in a subprocess, as an operator runs it, on ``settings``' files."""
    import subprocess
    import sys

    full_env = {
        **os.environ,
        "VIGIA_FEEDS": str(settings.feeds_path),
        "VIGIA_DB": str(settings.db_path),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        "PYTHONPATH": str(REPO),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=settings.db_path.parent,
    )
