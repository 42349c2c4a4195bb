"""The manual's exit-code table (docs/operations.md, "Exit codes"), row by row, through the real command line in subprocesses.

Each row of the table under "## Exit codes" has a case here that makes it happen for real (a
damaged file, a full disk, a read-only file system, a cycle running...) and checks the documented
code, and for 2 and 3 that stderr is one line starting as documented. A row without a case, or a
case without a row, fails the test.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipeline import store
from pipeline import tasks as ingest
from pipeline.settings import Settings
from tests import manual
from tests.conftest import REPO, copy_tree, make_settings, run_cli
from tests.localweb import LocalWeb, sample_feeds_toml, sample_site

BLOCK = 262144


def table() -> dict[str, int]:
    """case → exit code, from the manual's table."""
    section = manual.section("## Exit codes")
    rows = re.findall(r"^\| (.+?) \| (\d) \| .+ \|$", section, re.M)
    return {case: int(code) for case, code in rows}


@dataclass
class Env:
    settings: Settings
    web: LocalWeb
    directory: Path

    def cli(self, *args: str, **kwargs):
        return run_cli(self.settings, *args, **kwargs)


@pytest.fixture(scope="module")
def web():
    with LocalWeb() as served:
        served.routes.update(sample_site(served.base))
        yield served


@pytest.fixture(scope="module")
def template(tmp_path_factory, web) -> Path:
    """A database with one cycle of two outlets, its analyst copy and snapshot, made once."""
    directory = tmp_path_factory.mktemp("exit-codes")
    two = "\n\n".join(sample_feeds_toml(web.base).strip().split("\n\n")[:2]) + "\n"
    ingest.run_once(make_settings(directory, two))
    return directory


@pytest.fixture
def env(template, tmp_path, web) -> Env:
    directory = tmp_path / "data"
    copy_tree(template, directory)
    settings = Settings.from_env(
        env={}, feeds_path=directory / "feeds.toml", db_path=directory / "vigia.duckdb"
    )
    return Env(settings, web, directory)


def _all_outlets(env: Env) -> None:
    env.settings.feeds_path.write_text(sample_feeds_toml(env.web.base), encoding="utf-8")


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


def _in_own_mount(env: Env, mount: str, *args: str, extra_env: dict[str, str]):
    """``python -m pipeline args`` in a user and mount namespace where ``mount`` (a shell snippet
    using $D) has mounted a file system on ``$D``: no root needed, nothing outside is touched."""
    directory = env.directory.parent / "mnt"
    directory.mkdir(exist_ok=True)
    script = f'set -e; {mount}; exec "$@"'
    full_env = {
        **os.environ,
        "VIGIA_FEEDS": str(env.settings.feeds_path),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        "PYTHONPATH": str(REPO),
        "D": str(directory),
        "SRC": str(env.directory),
        **extra_env,
    }
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
        + [sys.executable, "-m", "pipeline", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# ---------------------------------------------------------------- one case per row


def cycle_with_failed_feeds(env: Env):
    _all_outlets(env)
    with env.settings.feeds_path.open("a") as fh:
        fh.write(f'[[feed]]\nname = "gone-outlet"\nurl = "{env.web.base}/no-such-feed.xml"\n')
    result = env.cli("run")
    assert "feeds 4 ok, 1 failed" in result.stdout
    return result


def report_days_capped(env: Env):
    result = env.cli("report", "--days", "100000", "--out", str(env.directory / "report"))
    assert (
        "charting the last 366 days" in result.stderr and (env.directory / "report" / "report.html").exists()
    )
    return result


def sql_statement_fails(env: Env):
    result = env.cli("sql", "-c", "select no_such_column from articles")
    assert "error:" in result.stdout
    return result


def a_bug(env: Env):
    script = "import sys; from pipeline import cli; cli.cmd_init = lambda args: 1 / 0; sys.exit(cli.main(['init']))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "VIGIA_DB": str(env.settings.db_path), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" in result.stderr and "ZeroDivisionError" in result.stderr
    return result


def feed_registry_missing(env: Env):
    result = env.cli("run", env={"VIGIA_FEEDS": str(env.directory / "missing.toml")})
    assert "missing.toml not found" in result.stderr
    return result


def db_under_a_file(env: Env):
    under = env.cli("run", env={"VIGIA_DB": str(env.settings.feeds_path / "vigia.duckdb")})
    assert "is a file, so" in under.stderr
    (env.directory / "a-directory").mkdir()
    directory = env.cli("run", env={"VIGIA_DB": str(env.directory / "a-directory")})
    assert directory.returncode == 2 and "is a directory" in directory.stderr
    return under


def analyst_db_foreign(env: Env):
    notes = env.directory / "notes.txt"
    notes.write_text("notes\n")
    result = env.cli("init", env={"VIGIA_ANALYST_DB": str(notes)})
    assert "refusing to overwrite it" in result.stderr and notes.read_text() == "notes\n"
    itself = env.cli("init", env={"VIGIA_ANALYST_DB": str(env.settings.db_path)})
    assert itself.returncode == 2 and "is the database itself" in itself.stderr
    return result


def report_days_zero(env: Env):
    negative = env.cli("report", "--days", "-3")
    assert negative.returncode == 2 and len(negative.stderr.splitlines()) == 1
    return env.cli("report", "--days", "0")


def sql_write_commits_itself(env: Env):
    insert = "insert into labels (article_id, label) values ('{}', 'relevant')"
    script = f"{insert.format('a')}; commit; {insert.format('b')}; insert into labels values (1)"
    result = env.cli("sql", "--write", "-c", script)
    with duckdb.connect(str(env.settings.db_path), read_only=True) as con:
        assert con.execute("select count(*) from labels").fetchone()[0] == 0
    return result


def label_unknown(env: Env):
    return env.cli("label", "https://example.org/not-stored", "relevant")


def another_cycle(env: Env):
    with store.cycle_lock(env.settings):  # this test process is "the running cycle"
        result = env.cli("run")
    assert f"held by pid {os.getpid()}" in result.stderr
    return result


def writer_waited(env: Env):
    with store.write_lock(env.settings):
        result = env.cli("label", "x", "relevant", env={"VIGIA_DB_LOCK_TIMEOUT": "1"})
    assert "stayed locked by another process for 1 s" in result.stderr
    return result


def database_damaged(env: Env):
    analyst = env.settings.analyst_db.read_bytes()
    with open(env.settings.db_path, "r+b") as fh:
        fh.seek(3 * 4096 + BLOCK * ((env.settings.db_path.stat().st_size // BLOCK) // 2) + 1000)
        fh.write(os.urandom(5000))
    result = env.cli("run")
    assert "is damaged" in result.stderr and env.settings.analyst_db.read_bytes() == analyst
    return result


def database_missing(env: Env):
    env.settings.db_path.unlink()
    result = env.cli("run")
    assert "is missing" in result.stderr and not env.settings.db_path.exists()
    return result


def disk_full(env: Env):
    """A file-size limit (RLIMIT_FSIZE) at the database's size: any write past it fails (EFBIG),
    as on a full disk; and, where user namespaces allow it, a real full disk: a 12 MB tmpfs."""
    _all_outlets(env)
    limit = env.settings.db_path.stat().st_size

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full_env = {
        **os.environ,
        "VIGIA_FEEDS": str(env.settings.feeds_path),
        "VIGIA_DB": str(env.settings.db_path),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run"],
        env=full_env,
        preexec_fn=limited,  # noqa: PLW1509 - a resource limit, set in the child only
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "File too large" in result.stderr, result.stderr
    if _unshare_works():
        mount = 'mount -t tmpfs -o size=12m tmpfs "$D"; cp "$SRC"/vigia.duckdb "$D"/'
        real = _in_own_mount(
            env, mount, "run", extra_env={"VIGIA_DB": str(env.directory.parent / "mnt/vigia.duckdb")}
        )
        assert real.returncode == 3 and "No space left on device" in real.stderr, real.stderr
        # One line says why; a full disk may also cost the model cache its write, which is a warning
        # of its own (the cache lives beside the database) and not a second error.
        errors = [line for line in real.stderr.strip().splitlines() if " WARNING " not in line]
        assert len(errors) == 1, real.stderr
    # Nothing is lost: with the limit gone, the next cycle completes, once.
    again = env.cli("run")
    assert again.returncode == 0, again.stderr
    with duckdb.connect(str(env.settings.analyst_db), read_only=True) as con:
        assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (12, 12)
    return result


def read_only_file_system(env: Env):
    if _unshare_works():
        mount = 'mount -t tmpfs tmpfs "$D"; cp "$SRC"/vigia.duckdb "$SRC"/vigia.analyst.duckdb "$D"/; mount -o remount,ro "$D"'
        db = str(env.directory.parent / "mnt" / "vigia.duckdb")
        result = _in_own_mount(env, mount, "run", extra_env={"VIGIA_DB": db})
        assert "Read-only file system" in result.stderr, result.stderr
        reading = _in_own_mount(
            env, mount, "sql", "-c", "select count(*) from articles", extra_env={"VIGIA_DB": db}
        )
        assert reading.returncode == 0 and "7" in reading.stdout  # analysts still read
        return result
    if os.geteuid() != 0:  # without namespaces, a directory we may not write behaves the same
        locked = env.directory.parent / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return env.cli("run", env={"VIGIA_DB": str(locked / "vigia.duckdb")})
    pytest.skip("no user namespaces (unshare) here, and root ignores directory permissions")


def analyst_copy_damaged(env: Env):
    analyst = env.settings.analyst_db
    analyst.chmod(0o644)
    with open(analyst, "r+b") as fh:
        fh.seek(3 * 4096 + 1000)
        fh.write(os.urandom(5000))
    result = env.cli("sql", "-c", "select count(*) from articles")
    assert "publishes a new analyst copy" in result.stderr
    return result


def smtp_unavailable(env: Env):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"retry_limit": 0}}
    extra = {"VIGIA_ALERT_TO": "ops@example.org", "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(connection)}
    queued = env.cli("alerts", "queue", env=extra)
    assert queued.returncode == 0, queued.stderr
    return env.cli("alerts", "send", env=extra)


# Every worker kills itself as it starts extracting a page, for real (loaded by every process of the
# cycle through sitecustomize, so by the fork server and so by every worker).
DYING_WORKERS = """
import os, signal
import pipeline.extract.workers

def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

pipeline.extract.workers._extract = _die
"""


def cycle_failed_for_our_reason(env: Env):
    hook = env.directory / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(DYING_WORKERS, encoding="utf-8")
    fresh = env.directory / "fresh.duckdb"  # every page is new, so every page goes to a worker
    return env.cli("run", "--db", str(fresh), env={"PYTHONPATH": f"{hook}{os.pathsep}{REPO}"})


CASES: dict[str, Callable[[Env], subprocess.CompletedProcess]] = {
    "a cycle ran, even if some feeds or pages failed (they are recorded)": cycle_with_failed_feeds,
    "`report --days` above 366": report_days_capped,
    "a statement of `sql -c` fails": sql_statement_fails,
    "an unexpected error (a bug)": a_bug,
    "the feed registry is missing or unreadable": feed_registry_missing,
    "`VIGIA_DB` under a regular file, or naming a directory": db_under_a_file,
    "`VIGIA_ANALYST_DB` names an existing file that is not a DuckDB database, or the database itself": (
        analyst_db_foreign
    ),
    "`report --days` 0 or negative": report_days_zero,
    "a `sql --write` script that begins, commits or rolls back itself, or attaches": sql_write_commits_itself,
    "`label` of an article that is not stored": label_unknown,
    "another cycle is running (`run`)": another_cycle,
    "a writer waited `VIGIA_DB_LOCK_TIMEOUT` for a running cycle or writer": writer_waited,
    "the database is damaged: a bad block, truncated, garbage, a bad header": database_damaged,
    "the database is missing or empty where snapshots of it exist": database_missing,
    "the disk is full (or a file-size limit is reached)": disk_full,
    "`VIGIA_DB` on a read-only file system": read_only_file_system,
    "the analyst copy is damaged (`sql`, `search`, `report`)": analyst_copy_damaged,
    "a cycle failed for a reason of ours: the worker pool broke, or every feed or every page failed in the"
    " workers for one cause ([Which failures fail a run](#which-failures-fail-a-run))": cycle_failed_for_our_reason,
    "`alerts send`: the SMTP server is unavailable": smtp_unavailable,
}


def test_every_row_of_the_table_has_a_case_and_every_case_a_row():
    assert set(table()) == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_each_row_of_the_exit_code_table(case, env):
    expected = table()[case]
    result = CASES[case](env)
    assert result.returncode == expected, (
        case,
        result.returncode,
        result.stdout[-2000:],
        result.stderr[-2000:],
    )
    if expected in (2, 3) or case.startswith("a cycle failed"):
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        start = {2: "configuration error: ", 3: "database error: ", 4: "cycle failed: "}[expected]
        assert lines[0].startswith(start), lines
        assert "Traceback" not in result.stderr
