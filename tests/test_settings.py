"""Every setting is checked when a command starts: a bad one is exit 2 with one line naming it,
before anything is downloaded or written."""

from __future__ import annotations

import dataclasses
import ipaddress
import subprocess
import sys

import pytest

from pipeline import cli
from pipeline.errors import ConfigError
from pipeline.settings import RANGES, Settings
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        # the cases of issue 16, each of which made every feed fail, crashed, or widened the guard
        ("VIGIA_MAX_REDIRECTS", "-1", "from 0 to 30"),
        ("VIGIA_FEED_MAX_BYTES", "-1", "VIGIA_FEED_MAX_BYTES"),
        ("VIGIA_FEED_DEADLINE", "-5", "VIGIA_FEED_DEADLINE"),
        ("VIGIA_CONNECT_TIMEOUT", "-1", "VIGIA_CONNECT_TIMEOUT"),
        ("VIGIA_CONCURRENCY", "0", "from 1 to 1024"),
        ("VIGIA_CONCURRENCY", "-1", "from 1 to 1024"),
        ("VIGIA_FULL_FETCH_HOURS", "nan", "VIGIA_FULL_FETCH_HOURS"),
        ("VIGIA_BACKOFF_MAX_HOURS", "inf", "VIGIA_BACKOFF_MAX_HOURS"),
        ("VIGIA_BACKOFF_MAX_HOURS", "200", "from 0 to 168"),  # no back-off longer than a week
        ("VIGIA_RETRY_AFTER_MAX_HOURS", "1e9", "from 0 to 168"),
        ("VIGIA_USER_AGENT", "Vigia\r\nX-Injected: 1", "control character"),
        ("VIGIA_USER_AGENT", "Vigía", "printable ASCII"),
        ("VIGIA_WORKER_MEMORY_MB", "1", "at least 128"),
        ("VIGIA_WORKER_MEMORY_MB", "100", "at least 128"),
        ("VIGIA_ALLOW_NETWORKS", "127.0.0.1/8", "host bits set (did you mean 127.0.0.0/8 or 127.0.0.1/32?)"),
        ("VIGIA_ALLOW_NETWORKS", "10.0.0.0/33", "VIGIA_ALLOW_NETWORKS"),
        ("VIGIA_ALLOW_NETWORKS", "0.0.0.0/0", "VIGIA_ALLOW_WIDE_NETWORKS"),
        ("VIGIA_ALLOW_NETWORKS", "::/0", "VIGIA_ALLOW_WIDE_NETWORKS"),
        ("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32, 0.0.0.0/1", "VIGIA_ALLOW_WIDE_NETWORKS"),
        ("VIGIA_WORKERS", "2.5", "not a whole number"),
        ("VIGIA_PAGE_DEADLINE", "soon", "not a number"),
        ("VIGIA_ALLOW_MASS_DISABLE", "perhaps", "not a true or false"),
        ("VIGIA_MAX_NEW_PER_FEED", "0", "from 1"),
        ("VIGIA_MAX_REVISIONS_PER_DAY", "0", "from 1"),
        ("VIGIA_COLLECT_BUDGET", "0", "from 1"),
        ("VIGIA_DB", "data/vigia\n.duckdb", "control character"),
        ("VIGIA_STORE", "sqlite", "VIGIA_STORE"),
        ("VIGIA_CONCURENCY", "4", "did you mean VIGIA_CONCURRENCY?"),
    ],
)
def test_a_bad_setting_is_a_configuration_error_naming_it(variable, value, says):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env={variable: value})
    message = str(caught.value)
    assert says in message and variable.split("=")[0] in message
    assert "\n" not in message.replace(value, "")  # one line (the value itself is shown escaped)


@pytest.mark.parametrize(
    "env",
    [
        {"VIGIA_ALLOW_NETWORKS": "127.0.0.1/32"},  # what the tests use
        {"VIGIA_ALLOW_NETWORKS": "127.0.0.0/8, 10.1.0.0/16, ::1/128, fd00::/8"},
        {"VIGIA_ALLOW_NETWORKS": "127.0.0.1"},  # a bare address is one exact host
        {"VIGIA_ALLOW_NETWORKS": "0.0.0.0/0", "VIGIA_ALLOW_WIDE_NETWORKS": "true"},
        {"VIGIA_WORKER_MEMORY_MB": "0"},  # no limit
        {"VIGIA_FULL_FETCH_HOURS": "0"},
        {"VIGIA_ALLOW_MASS_DISABLE": "yes", "VIGIA_BENCH_QUICK": "1"},
    ],
)
def test_good_settings_pass(env):
    Settings.from_env(env=env)


def test_the_wide_network_flag_keeps_the_networks_exact():
    s = Settings.from_env(env={"VIGIA_ALLOW_NETWORKS": "::/0", "VIGIA_ALLOW_WIDE_NETWORKS": "1"})
    assert s.allow_networks == (ipaddress.ip_network("::/0"),)


def test_overrides_and_replace_are_checked_too():
    with pytest.raises(ConfigError, match="VIGIA_CONCURRENCY"):
        Settings.from_env(env={}, concurrency=0)
    with pytest.raises(ConfigError, match="VIGIA_PAGE_DEADLINE"):
        dataclasses.replace(Settings.from_env(env={}), page_deadline=float("nan"))


def test_every_number_has_a_range_and_every_default_is_inside_it():
    numbers = [
        f.name
        for f in dataclasses.fields(Settings)
        if str(f.type).split(" ")[0] in ("int", "float") and f.name not in ("allow_networks",)
    ]
    assert sorted(numbers) == sorted(RANGES)
    Settings()  # the defaults pass their own checks


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in __import__("os").environ.items() if not k.startswith("VIGIA_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_exits_2_with_one_line_and_touches_nothing(tmp_path):
    db = tmp_path / "vigia.duckdb"
    done = _run_cli({"VIGIA_CONCURRENCY": "-1", "VIGIA_DB": str(db)}, "run")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["configuration error: VIGIA_CONCURRENCY=-1: must be a whole number from 1 to 1024"]
    assert not db.exists()


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"VIGIA_USER_AGENT": "a\rb"}, "VIGIA_USER_AGENT"),
        ({"VIGIA_ALLOW_NETWORKS": "127.0.0.1/8"}, "host bits set"),
        ({"VIGIA_BACKOFF_MAX_HOURS": "inf"}, "VIGIA_BACKOFF_MAX_HOURS"),
    ],
)
def test_every_command_checks_settings_through_the_cli_error_path(tmp_path, monkeypatch, capsys, env, says):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for command in (
        ["run", "--db", str(tmp_path / "v.duckdb")],
        ["init", "--db", str(tmp_path / "v.duckdb")],
    ):
        assert cli.main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("configuration error: ") and says in err[0]
    assert not (tmp_path / "v.duckdb").exists()
