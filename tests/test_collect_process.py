"""Our own faults fail loudly, and the workers never depend on whatever ``__main__`` started them.

* A launcher whose ``__main__`` cannot be re-run (as ``.venv/bin/airflow`` cannot, inside a task)
  breaks a worker pool started in its own process: that is WorkerError, never a feed's parse_error.
* ``run_collect`` (what the Airflow collect task runs) collects from such a launcher all the same,
  in ``python -m pipeline collect``, without Airflow's environment, and fails loudly when it fails.
* A cycle in which every page (or feed) failed in the workers for one reason of ours fails, in the
  CLI (exit 4) and under ``dag.test()`` (a failed task and its failure email).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import tasks as ingest
from pipeline.collect.batch import _fail_if_all_ours
from pipeline.collect.process import child_environment, run_collect
from pipeline.errors import CollectFailed, CycleFailed
from tests import test_alerts_outbox as outbox_tests
from tests import worker_tasks
from tests.conftest import REPO, warm_model_cache
from tests.localweb import sample_feeds_toml
from tests.test_dags import dagbag

mail = outbox_tests.mail

# A launcher like Airflow's: a script (its __main__ has no module spec) whose import in a worker
# fails, as airflow/__init__.py does there ("Could not parse SQLAlchemy URL").
LAUNCHER = """
if __name__ != "__main__":
    raise RuntimeError("the launcher was run again inside a worker")
import asyncio, json, logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

def pool_parse():
    from pipeline.settings import Settings
    from pipeline.extract.workers import WorkerPool

    async def parse():
        async with WorkerPool(Settings.from_env(env={}, workers=1)) as pool:
            await pool.parse(b"<rss version='2.0'><channel><title>t</title></channel></rss>",
                             feed="f", url="https://example.org/feed")
    asyncio.run(parse())

def collect(jobs_file, run_id):
    from pipeline.collect.process import run_collect
    print(json.dumps({"staged": run_collect(jobs_file, run_id, 0)}))

globals()[sys.argv[1]](*sys.argv[2:])
"""


def launcher(tmp_path) -> Path:
    script = tmp_path / "launcher"
    script.write_text(textwrap.dedent(LAUNCHER), encoding="utf-8")
    return script


def launch(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(launcher(tmp_path)), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env or dict(os.environ),
        cwd=tmp_path,
    )


def test_a_pool_whose_workers_cannot_start_is_our_failure_not_a_feeds(tmp_path):
    result = launch(tmp_path, "pool_parse")
    assert result.returncode != 0
    assert re.search(r"WorkerError: the worker pool (broke|stopped|cannot run)", result.stderr), (
        result.stderr[-3000:]
    )
    assert "ContentError" not in result.stderr


def test_an_input_that_kills_its_worker_at_once_is_its_own_failure_and_the_pool_goes_on(monkeypatch):
    """A worker that dies before pebble has seen it take its task breaks the whole pool ("All workers
    expired"), a race pebble loses now and then: here it always loses. The input is recorded as a
    worker lost, and the next input runs on a fresh pool."""
    from pebble.pool.process import PoolManager

    from pipeline.errors import ContentError
    from pipeline.extract.workers import WORKER_LOST, WorkerPool
    from pipeline.settings import Settings

    def always_too_late(self, worker_id):
        raise BrokenProcessPool("All workers expired")

    monkeypatch.setattr(PoolManager, "find_expired_task", always_too_late)

    async def scenario() -> int:
        async with WorkerPool(Settings.from_env(env={}, workers=1)) as pool:
            with pytest.raises(ContentError, match="worker died") as lost:
                await pool._run(worker_tasks.kill_itself, (), 30, "extract_error", "extraction")
            assert lost.value.ours == WORKER_LOST
            return await pool._run(worker_tasks.answer, (), 30, "extract_error", "extraction")

    assert asyncio.run(scenario()) == 42


def test_collect_runs_in_our_own_process_whatever_launched_the_task(tmp_path, sample_web, monkeypatch):
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")
    warm_model_cache(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")} | {
        "VIGIA_FEEDS": str(feeds),
        "VIGIA_DB": str(tmp_path / "vigia.duckdb"),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        # What a task has and its child must not: a database it may not reach, secrets.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "not a url",
        "AIRFLOW_CONN_SMTP_DEFAULT": '{"conn_type": "smtp", "password": "secret"}',
        # Every interpreter started below (launcher, child, fork server, workers) reports here what
        # it sees: whether Airflow was imported, and whether any of Airflow's variables reached it.
        "PYTHONPATH": str(report_hook(tmp_path)),
    }
    for name in ("VIGIA_FEEDS", "VIGIA_DB", "VIGIA_ALLOW_NETWORKS"):
        monkeypatch.setenv(name, env[name])
    from pipeline.settings import Settings

    (jobs_file,) = ingest.plan_to_files(Settings.from_env(), "run-1")
    result = launch(tmp_path, "collect", jobs_file, "run-1", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    staged = json.loads(result.stdout.strip().splitlines()[-1])["staged"]
    articles = pq.read_table(f"{staged}/articles.parquet").to_pylist()
    assert len(articles) == 12
    assert {a["extraction_status"] for a in articles} == {"ok"}
    seen = [json.loads(line) for line in (tmp_path / "processes.jsonl").read_text().splitlines()]
    assert not [p for p in seen if "airflow_imported" in p], seen  # not in any process, workers included
    launcher, *ours = [p for p in seen if "argv" in p]
    assert launcher["airflow_vars"] and len(ours) >= 2, seen  # the child, its fork server (and tracker)
    assert all(not p["airflow_vars"] for p in ours), seen
    # The child's log reached the caller's log (the task's).
    assert "batch 0: 4 feeds (0 failed), 12 articles collected" in result.stderr
    assert "HTTP Request" not in result.stderr


def test_a_collect_whose_task_lost_its_supervisor_stops_its_child_at_once(tmp_path, monkeypatch):
    # Airflow's supervisor stopped without signalling the task (`make run`'s Ctrl-C): the task and
    # its child must not go on downloading a slow page for nobody. Here a shell plays the supervisor.
    from pipeline.settings import Settings
    from tests.localweb import LocalWeb
    from tests.test_e2e import TOKEN_VARIABLE, add_slow_feed, describe, kill_all, left_after, wait_for

    token = uuid.uuid4().hex
    with LocalWeb() as web:
        feeds = tmp_path / "feeds.toml"
        feeds.write_text("", encoding="utf-8")
        page = add_slow_feed(web, feeds)  # a byte every half second: minutes for the page
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")} | {
            "VIGIA_FEEDS": str(feeds),
            "VIGIA_DB": str(tmp_path / "vigia.duckdb"),
            "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
            "VIGIA_PAGE_DEADLINE": "600",
            TOKEN_VARIABLE: token,
        }
        for name in ("VIGIA_FEEDS", "VIGIA_DB", "VIGIA_ALLOW_NETWORKS"):
            monkeypatch.setenv(name, env[name])
        (jobs_file,) = ingest.plan_to_files(Settings.from_env(), "run-1")
        log = tmp_path / "task.log"
        supervisor = subprocess.Popen(
            ["bash", "-c", '"$0" "$1" collect "$2" run-1 2>"$3" & wait']
            + [sys.executable, str(launcher(tmp_path)), jobs_file, str(log)],
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
        try:
            wait_for("the collect child to ask for the slow page", lambda: web.hits(page) > 0, 120, 0.1)
            supervisor.kill()  # SIGKILL: it has no way to stop the task
            supervisor.wait()
            left = left_after(token, 60)  # at worst: a second to notice, 15 s of grace, the kill
        finally:
            kill_all(token)
    assert not left, describe(left)
    assert "is gone" in log.read_text()


REPORT_HOOK = """
import json, os, sys

_PATH = os.path.join(os.path.dirname(__file__), "..", "processes.jsonl")


def _report(**record):
    with open(_PATH, "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), **record}) + "\\n")


class _AirflowWatch:
    # Inherited by every process forked from this one (the workers): any import of Airflow is reported.
    def find_spec(self, name, path=None, target=None):
        if name == "airflow":
            _report(airflow_imported=True)
        return None


_report(argv=sys.argv[:3], airflow_vars=sorted(k for k in os.environ if k.startswith("AIRFLOW")))
sys.meta_path.insert(0, _AirflowWatch())
"""


def report_hook(tmp_path):
    hook = tmp_path / "report-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(REPORT_HOOK, encoding="utf-8")
    return hook


def test_the_child_gets_no_airflow_variable_and_finds_the_pipeline():
    env = child_environment(
        {
            "PATH": "/usr/bin",
            "AIRFLOW_HOME": "/x",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///x",
            "AIRFLOW_CONN_SMTP_DEFAULT": "{}",
            "_AIRFLOW_PROCESS_CONTEXT": "client",
            "VIGIA_DB": "/d.duckdb",
            "PYTHONPATH": "/elsewhere",
        }
    )
    assert env == {"PATH": "/usr/bin", "VIGIA_DB": "/d.duckdb", "PYTHONPATH": f"{REPO}{os.pathsep}/elsewhere"}


def test_a_child_that_fails_raises_with_its_reason(tmp_path):
    with pytest.raises(CollectFailed) as failed:
        run_collect(str(tmp_path / "no-such-jobs.json"), "run-1", 3)
    assert "batch 3" in str(failed.value) and "no-such-jobs.json" in str(failed.value)


def test_one_cause_of_ours_behind_every_failure_fails_the_cycle():
    with pytest.raises(CycleFailed, match="every feed of the cycle \\(3\\) failed .*: worker died"):
        _fail_if_all_ours("feed", ["worker died"] * 3, minimum=1)
    _fail_if_all_ours("feed", ["worker died", None, "worker died"], minimum=1)  # one feed was fine
    _fail_if_all_ours("feed", ["worker died", "our parsing code raised TypeError"], minimum=1)
    _fail_if_all_ours("page", ["worker died"], minimum=2)  # one page may kill its worker itself
    _fail_if_all_ours("feed", [], minimum=1)


# Loaded by every interpreter started with this directory on PYTHONPATH (the CLI, the collect child,
# its fork server and so every worker): each page's extraction kills its own worker, for real.
DYING_WORKERS = """
import os, signal
import pipeline.extract.workers

def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

pipeline.extract.workers._extract = _die
"""


@pytest.fixture
def dying_workers(tmp_path, monkeypatch):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(DYING_WORKERS, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(hook))
    return hook


def test_every_page_killing_its_worker_fails_the_cli_cycle(tmp_path, sample_web, dying_workers):
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")} | {
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--feeds", str(feeds), "--db", str(tmp_path / "v.duckdb")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "cycle failed: every page handed to the workers of the cycle (12) failed" in result.stderr
    assert "the worker died or passed its memory limit" in result.stderr
    assert not (tmp_path / "v.duckdb").exists() or "articles" not in result.stdout


def test_a_collect_that_fails_fails_its_task_and_mails_it(
    airflow_db, tmp_path, sample_web, monkeypatch, mail, dying_workers
):
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")
    monkeypatch.setenv("VIGIA_FEEDS", str(feeds))
    warm_model_cache(tmp_path)
    monkeypatch.setenv("VIGIA_DB", str(tmp_path / "vigia.duckdb"))
    monkeypatch.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("VIGIA_WORKERS", "2")
    monkeypatch.setenv("VIGIA_ALERT_TO", "ops@example.org")
    monkeypatch.setenv("VIGIA_TASK_RETRIES", "0")
    run = dagbag().get_dag("vigia_ingest").test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"plan": "success", "collect": "failed", "load": "upstream_failed"}
    (got,) = mail.messages
    assert got.message["Subject"] == "Vigía: task vigia_ingest.collect[0] failed (try 1)"
    html = got.part("text/html").get_content()
    assert "CollectFailed" in html and "every page handed to the workers" in html


def test_every_feed_refused_by_the_network_guard_fails_the_cycle_and_says_why(tmp_path, sample_web):
    # The operator's registry is on 127.0.0.1 and VIGIA_ALLOW_NETWORKS was forgotten.
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--feeds", str(feeds), "--db", str(tmp_path / "v.duckdb")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "every feed of the cycle (4) failed" in result.stderr and "VIGIA_ALLOW_NETWORKS" in result.stderr
