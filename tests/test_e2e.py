"""End to end, the way it runs: Airflow's real scheduler, a local news web and a local SMTP server.

1. ``make run`` (``airflow standalone``, LocalExecutor), started as a user would, with the API on a
   port of its own: every article of the sample web reaches the analyst copy and the digest email
   arrives; then Ctrl-C while a collect task is extracting stops every process it started.
2. The docker-compose scale profile's processes (api-server, scheduler, dag-processor and a Celery
   worker, ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor``) with a real Redis broker started here: the
   same articles and digest. Skipped, saying why, where ``redis-server`` is not installed
   (``scripts/ci_redis.sh`` installs it; ``.ci/run`` calls it).

Every wait is bounded; every process started is found again afterwards by a token in its
environment, so a test also fails when one outlives its stop. ``pytest -m e2e`` selects these.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import psutil
import pytest

from tests.conftest import REPO
from tests.localweb import LocalWeb, Route, sample_feeds_toml, sample_site
from tests.test_alerts_outbox import MailServer, free_port

# Each run starts Airflow from nothing (its database, then every component): minutes, not seconds.
# No xdist_group: the two tests share nothing (homes, ports, webs, mail servers and tokens are their
# own), so they run side by side. (pytest 9.2 also ignores xdist 3.8's group marks: it no longer lets
# a plugin rename a test's node id, which is how xdist groups.)
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

SAMPLE_ARTICLES = 12  # pipeline/data/sample_site.json: four outlets
START_TIMEOUT = 420  # seconds for a cold start to the first digest on a loaded 2-core machine
# Seconds for every process to exit after Ctrl-C: with a run a minute, a task is often in flight.
STOP_TIMEOUT = 180
VENV_BIN = REPO / ".venv" / "bin"
TOKEN_VARIABLE = "E2E_TEST_TOKEN_OF_VIGIA"  # not VIGIA_*: those must be settings


# ---------------------------------------------------------------- helpers


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 1.0) -> float:
    """Poll ``check`` until it is true; seconds waited. Fails the test after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started


def processes_with(token: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``token`` (all that a test started)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TOKEN_VARIABLE) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def left_after(token: str, seconds: float) -> list[psutil.Process]:
    """The processes carrying ``token`` still alive after up to ``seconds`` (none, once all ended)."""
    deadline = time.monotonic() + seconds
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def describe(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid} {' '.join(proc.cmdline())[:160]}")
        except psutil.Error:
            continue
    return "\n".join(lines)


def kill_all(token: str) -> None:
    for proc in processes_with(token):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def analyst_articles(analyst: Path) -> int:
    """Articles extracted from their pages in the analyst copy (0 until it exists)."""
    if not analyst.exists():
        return 0
    try:
        with duckdb.connect(str(analyst), read_only=True) as con:
            row = con.execute("select count(*) from articles where extraction_status = 'ok'").fetchone()
    except duckdb.Error:
        return 0
    return int(row[0]) if row else 0


def digests(mail: MailServer) -> list[str]:
    # By the alert's kind, not its subject: the subject is in VIGIA_LANGUAGE (Spanish by default).
    return [m.message["Subject"] for m in mail.messages if m.message["X-Vigia-Alert"] == "digest"]


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture
def news_web() -> Iterator[LocalWeb]:
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base))
        yield web


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def token() -> Iterator[str]:
    token = uuid.uuid4().hex
    yield token
    kill_all(token)  # whatever a failed test left behind


def deployment_env(tmp_path: Path, web: LocalWeb, mail: MailServer, token: str) -> dict[str, str]:
    """What an operator sets: Vigía's settings, the SMTP connection, ports of our own (never 8080,
    8793, 8794: other Airflows may run on this machine), and nothing of the test's Airflow."""
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(web.base), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "VIGIA_"))}
    env.update(
        {
            TOKEN_VARIABLE: token,
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__API__PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # New DAG versions and files are picked up within seconds rather than a minute.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW_CONN_SMTP_DEFAULT": mail.connection(timeout=10),
            "VIGIA_FEEDS": str(feeds),
            "VIGIA_DB": str(tmp_path / "data" / "vigia.duckdb"),
            "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
            "VIGIA_WORKERS": "2",
            "VIGIA_ALERT_TO": "newsroom@example.org",
        }
    )
    return env


def add_slow_feed(web: LocalWeb, feeds: Path) -> str:
    """A new feed whose one article page trickles out for minutes: a collect task stays busy on it."""
    page = "/lento/nota.html"
    rss = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lento</title><link>{web.base}/lento/</link><description>x</description>
<item><title>Nota lenta</title><link>{web.base}{page}</link><guid>lento-1</guid></item>
</channel></rss>"""
    web.routes["/lento/feed.xml"] = Route(body=rss.encode(), content_type="application/rss+xml")
    web.routes[page] = Route(body=b"<html><body><p>" + b"x" * 2000 + b"</p></body></html>", drip_seconds=0.5)
    with feeds.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[[feed]]\nname = "lento"\nurl = "{web.base}/lento/feed.xml"\n')
    return page


# ---------------------------------------------------------------- make run


def test_make_run_ingests_mails_and_stops_everything_on_ctrl_c(tmp_path, news_web, smtp, token):
    env = deployment_env(tmp_path, news_web, smtp, token)
    analyst = tmp_path / "data" / "vigia.analyst.duckdb"
    log = tmp_path / "make-run.log"
    started = time.monotonic()
    with log.open("wb") as out:
        # Its own session, as a terminal gives a foreground job: Ctrl-C is SIGINT to that group. And
        # SIGINT at its default, as a terminal's job has it: a suite started in the background (an
        # asynchronous command of a script) ignores SIGINT, every process inherits that, and a shell
        # cannot trap a signal ignored when it started, so make run could not be stopped.
        make = subprocess.Popen(
            ["env", "--default-signal=INT", "make", "run"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def alive() -> bool:
            assert make.poll() is None, f"make run exited ({make.returncode}):\n{log_tail(log)}"
            return True

        wait_for(
            "every article in the analyst copy",
            lambda: alive() and analyst_articles(analyst) == SAMPLE_ARTICLES,
            START_TIMEOUT,
        )
        articles_at = time.monotonic() - started
        wait_for("the digest email", lambda: alive() and bool(digests(smtp)), START_TIMEOUT)
        digest_at = time.monotonic() - started
        output = log.read_text(errors="replace")
        assert f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}" in output
        assert "Airflow is up: DAGs unpaused" in output

        # Ctrl-C while a collect task is extracting (its own process, fork server and workers).
        page = add_slow_feed(news_web, Path(env["VIGIA_FEEDS"]))
        subprocess.run(
            ["airflow", "dags", "trigger", "vigia_ingest"],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        wait_for("the slow page requested by a collect task", lambda: news_web.hits(page) > 0, 180)
        collectors = [p for p in processes_with(token) if "collect" in " ".join(p.cmdline())]
        assert collectors, describe(processes_with(token))
        os.killpg(make.pid, signal.SIGINT)
        make.wait(STOP_TIMEOUT)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        left = left_after(token, 30)
        kill_all(token)
    assert not left, f"left running after Ctrl-C:\n{describe(left)}"
    print(f"\nmake run: articles after {articles_at:.0f} s, digest after {digest_at:.0f} s")


# ---------------------------------------------------------------- Celery


# The Airflow commands docker-compose.yml's services run (tests/test_compose.py holds it to that).
CELERY_COMPONENTS = (("api-server",), ("scheduler",), ("dag-processor",), ("celery", "worker"))


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for proc in procs:
        try:
            proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def api_up(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False
    return True


def test_celery_workers_ingest_and_mail(tmp_path, news_web, smtp, token):
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.skip("redis-server is not installed (scripts/ci_redis.sh installs it): no Celery broker")
    env = deployment_env(tmp_path, news_web, smtp, token)
    api = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
    redis_port = free_port()
    # As docker-compose.yml's scale profile sets it, with this machine's addresses.
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'celery-results.db'}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        }
    )
    analyst = tmp_path / "data" / "vigia.analyst.duckdb"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    started = time.monotonic()
    try:
        procs.append(
            start(
                [
                    redis_server,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                env,
                logs / "redis.log",
                tmp_path,
            )
        )
        # What docker-compose's airflow-init runs (the DAGs reach the database by the dag-processor).
        for cmd in (["airflow", "db", "migrate"], ["python", "-m", "pipeline", "init"]):
            subprocess.run(cmd, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
        for component in CELERY_COMPONENTS:
            procs.append(start(["airflow", *component], env, logs / f"{component[-1]}.log", tmp_path))
            if component == ("api-server",):  # as compose's worker waits for it to be healthy
                wait_for("the API server", lambda: api_up(api), 180)

        def alive() -> bool:
            for proc in procs:
                assert proc.poll() is None, f"{proc.args} exited:\n" + "\n".join(
                    f"--- {p.name}\n{log_tail(p)}" for p in logs.iterdir()
                )
            return True

        wait_for(
            "every article in the analyst copy",
            lambda: alive() and analyst_articles(analyst) == SAMPLE_ARTICLES,
            START_TIMEOUT,
        )
        articles_at = time.monotonic() - started
        wait_for("the digest email", lambda: alive() and bool(digests(smtp)), START_TIMEOUT)
        digest_at = time.monotonic() - started
        worker_log = (logs / "worker.log").read_text(errors="replace")
        assert "vigia_ingest" in worker_log and "collect" in worker_log, (
            "the Celery worker ran no collect task"
        )
    finally:
        stop(procs)
        left = left_after(token, 30)
        kill_all(token)
    assert not left, f"left running after every component was stopped:\n{describe(left)}"
    print(f"\nCelery: articles after {articles_at:.0f} s, digest after {digest_at:.0f} s")
    with duckdb.connect(str(analyst), read_only=True) as con:
        assert con.execute("select outcome, count(*) from fetches group by 1").fetchall() == [("ok", 4)]
