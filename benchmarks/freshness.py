"""Freshness: how late an item published on the web reaches the analyst copy and the digest email.

    .venv/bin/python -m benchmarks.run --freshness [--minutes 20] [--drain-minutes 20]
    make bench MODE=freshness

Under the real scheduler, as a user runs it: ``make run`` (``scripts/run_airflow.sh``, Airflow
standalone, the DAGs in ``dags/``) with its own Airflow home, ports and database in a temporary
directory, a local SMTP server (aiosmtpd) as the mail relay, and a local web whose feeds publish
new items on a clock (``benchmarks.clockweb``: hot feeds about every 75 s, quiet ones every 40
minutes or so, four loopback hosts with 30 to 150 ms of latency each).

1. Airflow starts; its first ingestion run loads the feeds' old items and mails their digest.
2. Then the clock starts: for ``--minutes`` the feeds publish new items, each a distinct relevant
   story (``benchmarks.newsgen``). The harness polls the analyst copy every ``--poll`` seconds
   (a read-only DuckDB connection, as an analyst's) and records when each item is first
   queryable there, and records when each digest email naming it arrives at the SMTP server.
3. After the window, Vigía runs on (``--drain-minutes`` at most) until every item is in the
   analyst copy and mailed; then everything is stopped (Ctrl-C to ``make run``, as a user).
4. Airflow's own share, from its metadata database and task logs: for each DAG run, the time
   from the moment it was due to its first task's start, each task's start-up (worker start and
   DAG file parse, before the task's code runs) and wind-down, the gaps between tasks, and from
   the load's end to the alerts run and its email.

Latencies: p50, p95 and max over the items published in the window (nearest rank; an item never
delivered counts as infinitely late), over all items and for hot and quiet feeds apart. The
issue's targets, for feeds that publish often (the hot ones): p95 ≤ 5 min to the analyst copy,
≤ 6 min to the email.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import math
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.clockweb import ClockWeb, FeedPlan
from benchmarks.corpus import REPO

TARGETS = {"analyst_p95_s": 300.0, "email_p95_s": 360.0}
TOKEN_VARIABLE = "BENCH_FRESHNESS_TOKEN"  # not a VIGIA_ setting: finds every process we started
_ITEM = re.compile(r"/n/(\d+)/(\d+)")
START_TIMEOUT = 900.0  # seconds from `make run` to the first load and its digest, on a loaded machine


# ---------------------------------------------------------------- the web's plan


def plan_feeds(hot: int, quiet: int, hosts: int, minutes: float, seed: int = 20) -> list[FeedPlan]:
    """Hot feeds publish every 45-105 s; quiet ones with a mean gap of 40 minutes (often not at all
    within a short window). Feeds are spread over the hosts in turn."""
    rng = random.Random(seed)
    window = minutes * 60
    feeds = []
    for i in range(hot + quiet):
        kind = "hot" if i < hot else "quiet"
        offsets, t = [], rng.uniform(5, 60) if kind == "hot" else rng.expovariate(1 / 2400)
        while t < window:
            offsets.append(round(t, 3))
            t += rng.uniform(45, 105) if kind == "hot" else rng.expovariate(1 / 2400)
        feeds.append(FeedPlan(index=i, host=i % hosts, kind=kind, old=5, offsets=offsets))
    return feeds


def feeds_toml(web: ClockWeb, feeds: list[FeedPlan]) -> str:
    return "".join(f'[[feed]]\nname = "clock-{f.index:02d}"\nurl = "{web.feed_url(f)}"\n\n' for f in feeds)


# ---------------------------------------------------------------- the mail relay


class MailSink:
    """aiosmtpd on 127.0.0.1: every message with the moment it arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def __enter__(self) -> MailSink:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
                with sink._lock:
                    sink.messages.append((time.time(), envelope.content))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()

    def connection(self) -> str:
        extra = {"disable_ssl": True, "disable_tls": True, "from_email": "vigia@example.org", "timeout": 10}
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "extra": extra})

    def digests(self) -> list[tuple[float, set[tuple[int, int]]]]:
        """(arrival, items named) of every digest email so far."""
        with self._lock:
            messages = list(self.messages)
        found = []
        for arrived, raw in messages:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            if message["X-Vigia-Alert"] != "digest":
                continue
            text = ""
            for part in message.walk():
                if part.get_content_type() in ("text/plain", "text/html"):
                    with contextlib.suppress(LookupError, ValueError):
                        text += part.get_content()
            found.append((arrived, {(int(a), int(b)) for a, b in _ITEM.findall(text)}))
        return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- Vigía under `make run`


def vigia_env(home: Path, feeds: Path, mail: MailSink, token: str, workers: int) -> dict[str, str]:
    """What an operator sets, with ports of our own and nothing of this shell's Airflow or Vigía."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "VIGIA_"))}
    env.update(
        {
            TOKEN_VARIABLE: token,
            "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__API__PORT": str(free_port()),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW_CONN_SMTP_DEFAULT": mail.connection(),
            "VIGIA_FEEDS": str(feeds),
            "VIGIA_DB": str(home / "data" / "vigia.duckdb"),
            "VIGIA_ALLOW_NETWORKS": "127.0.0.0/8",
            "VIGIA_WORKERS": str(workers),
            "VIGIA_ALERT_TO": "newsroom@example.org",
        }
    )
    return env


def processes_with(token: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TOKEN_VARIABLE) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_make_run(make: subprocess.Popen, token: str) -> int:
    """Ctrl-C to `make run`'s process group, as a terminal sends it; then whatever is left, killed.
    Returns how many processes had to be killed."""
    import psutil

    if make.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(90)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    deadline = time.monotonic() + 30
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(1)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return len(left)


def analyst_items(path: Path) -> dict[tuple[int, int], dict[str, Any]] | None:
    """The clock web's items in the analyst copy: relevance and whether each is a story of its own.
    None when the copy cannot be read right now (not published yet)."""
    if not path.exists():
        return None
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                "select a.url, a.article_id, r.story_id from articles a"
                " left join relevant_articles r using (article_id) where a.url like '%/n/%'"
            ).fetchall()
    except duckdb.Error:
        return None
    found = {}
    for url, article_id, story_id in rows:
        match = _ITEM.search(url or "")
        if match:
            key = (int(match.group(1)), int(match.group(2)))
            found[key] = {"relevant": story_id is not None, "own_story": story_id == article_id}
    return found


def run(args: Any) -> dict[str, Any]:
    import psutil

    feeds = plan_feeds(args.hot, args.quiet, args.hosts, args.minutes, args.seed)
    latency = [30.0 + 120.0 * i / max(1, args.hosts - 1) for i in range(args.hosts)]
    token = uuid.uuid4().hex
    keep = tempfile.mkdtemp(prefix="vigia-freshness-") if args.keep else None
    with contextlib.ExitStack() as stack:
        home = (
            Path(keep)
            if keep
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vigia-fresh-")))
        )
        web = stack.enter_context(ClockWeb(args.hosts, latency))
        web.start(feeds, home / "web")
        mail = stack.enter_context(MailSink())
        (home / "feeds.toml").write_text(feeds_toml(web, feeds), encoding="utf-8")
        env = vigia_env(home, home / "feeds.toml", mail, token, args.workers)
        analyst = home / "data" / "vigia.analyst.duckdb"
        old = {(f.index, n) for f in feeds for n in range(f.old)}
        log_path = home / "make-run.log"
        started = time.time()
        with log_path.open("wb") as out:
            make = subprocess.Popen(
                ["make", "run"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        seen: dict[tuple[int, int], float] = {}
        info: dict[tuple[int, int], dict[str, Any]] = {}
        mailed: dict[tuple[int, int], float] = {}
        killed = 0
        try:

            def alive() -> None:
                if make.poll() is not None:
                    tail = log_path.read_text(errors="replace").splitlines()[-40:]
                    raise RuntimeError(f"make run exited ({make.returncode}):\n" + "\n".join(tail))

            # 1. The first run: every old item in the analyst copy, and its digest mailed.
            while True:
                alive()
                now = time.time()
                items = analyst_items(analyst) or {}
                if old <= set(items) and mail.digests():
                    break
                if now - started > START_TIMEOUT:
                    raise RuntimeError(f"no first load and digest within {START_TIMEOUT:.0f} s")
                time.sleep(args.poll)
            first_load_s = time.time() - started
            # 2. The clock starts; 3. Vigía runs on until every item is delivered (or the drain ends).
            t0 = web.start_clock()
            published = {(f.index, f.old + j): t0 + o for f in feeds for j, o in enumerate(f.offsets)}
            window_end = t0 + args.minutes * 60
            give_up = window_end + args.drain_minutes * 60
            while True:
                alive()
                now = time.time()
                items = analyst_items(analyst)
                if items is not None:
                    for key, facts in items.items():
                        if key in published and key not in seen:
                            seen[key] = now
                        info[key] = facts
                for arrived, named in mail.digests():
                    for key in named:
                        if key in published:
                            mailed.setdefault(key, arrived)
                expected_mail = {k for k in published if info.get(k, {}).get("own_story")}
                done = set(published) <= set(seen) and expected_mail <= set(mailed)
                if now >= window_end and (done or now >= give_up):
                    break
                time.sleep(args.poll)
            ended = time.time()
        finally:
            killed = stop_make_run(make, token)
        server_cpu = None
        with contextlib.suppress(psutil.Error):
            server_cpu = sum(psutil.Process(web.pid).cpu_times()[:2]) if web.pid else None
        web_stats = web.stats()
        share = airflow_share(home / "airflow", analyst)
        items_out = [
            {
                "feed": key[0],
                "item": key[1],
                "kind": feeds[key[0]].kind,
                "published": when,
                "analyst_s": seen[key] - when if key in seen else None,
                "email_s": mailed[key] - when if key in mailed else None,
                **info.get(key, {}),
            }
            for key, when in sorted(published.items(), key=lambda kv: kv[1])
        ]
    results = {
        "meta": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "minutes": args.minutes,
            "drain_minutes": args.drain_minutes,
            "feeds": {"hot": args.hot, "quiet": args.quiet},
            "hosts": args.hosts,
            "latency_ms": latency,
            "poll_s": args.poll,
            "workers": args.workers,
            "load_average_at_start": os.getloadavg(),
            "first_load_and_digest_s": first_load_s,
            "measured_s": ended - t0,
            "processes_killed_after_stop": killed,
            "kept": keep,
        },
        "items": items_out,
        "analyst": summary([i["analyst_s"] for i in items_out]),
        # Mailed once, as a story of its own; an item never loaded is never mailed either.
        "email": summary([i["email_s"] for i in items_out if i.get("own_story") or i["analyst_s"] is None]),
        "web": {"requests": web_stats, "server_cpu_s": server_cpu},
        "airflow": share,
    }
    results["breakdown"] = breakdown(items_out, share, t0)
    return results


# ---------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(latencies: list[float | None]) -> dict[str, Any]:
    values = [math.inf if v is None else v for v in latencies]
    return {
        "items": len(values),
        "delivered": sum(1 for v in values if math.isfinite(v)),
        "p50_s": percentile(values, 0.50),
        "p95_s": percentile(values, 0.95),
        "max_s": max(values) if values else math.nan,
        "mean_s": sum(values) / len(values) if values and all(map(math.isfinite, values)) else None,
    }


def _utc(value: Any) -> float | None:
    if value in (None, ""):
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _task_log(path: Path) -> dict[str, float | None]:
    """Moments in one task attempt's log: its first line, the end of the worker's start-up (the DAG
    file parsed, the task's code about to run), the start of its post-execute, its last line."""
    first = parsed = post = last = None
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            record = json.loads(line)
            stamp = _utc(record.get("timestamp"))
        except (ValueError, TypeError, AttributeError):
            continue
        if stamp is None:
            continue
        event = str(record.get("event", ""))
        first = first if first is not None else stamp
        last = stamp
        if parsed is None and event.startswith("Worker startup parse complete"):
            parsed = stamp
        if post is None and "Post Execute" in event:
            post = stamp
    return {"log_first": first, "code_start": parsed, "code_end": post, "log_last": last}


def airflow_share(airflow_home: Path, analyst: Path) -> dict[str, Any]:
    """Per DAG run of vigia_ingest and vigia_alerts: when it was due, queued, started, ended, and
    each task's timeline (scheduled, queued, started, its code's start and end, ended)."""
    db = airflow_home / "airflow.db"
    if not db.exists():
        return {"runs": [], "error": f"no metadata database at {db}"}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        runs = con.execute(
            "select dag_id, run_id, run_type, run_after, queued_at, start_date, end_date, state from dag_run"
            " where dag_id in ('vigia_ingest', 'vigia_alerts') order by run_after"
        ).fetchall()
        tasks = con.execute(
            "select dag_id, run_id, task_id, map_index, try_number, state, scheduled_dttm, queued_dttm,"
            " start_date, end_date from task_instance where dag_id in ('vigia_ingest', 'vigia_alerts')"
        ).fetchall()
    finally:
        con.close()
    body = _cycle_bodies(analyst)
    out = []
    for dag_id, run_id, run_type, run_after, queued, start, end, state in runs:
        entry: dict[str, Any] = {
            "dag_id": dag_id,
            "run_id": run_id,
            "run_type": run_type,
            "state": state,
            "due": _utc(run_after),
            "queued": _utc(queued),
            "started": _utc(start),
            "ended": _utc(end),
            "tasks": [],
        }
        for t_dag, t_run, task_id, map_index, tries, t_state, sched, t_queued, t_start, t_end in tasks:
            if (t_dag, t_run) != (dag_id, run_id):
                continue
            mapped = f"map_index={map_index}/" if map_index is not None and map_index >= 0 else ""
            log_file = (
                airflow_home
                / "logs"
                / f"dag_id={dag_id}"
                / f"run_id={run_id}"
                / f"task_id={task_id}"
                / f"{mapped}attempt={max(1, tries or 1)}.log"
            )
            entry["tasks"].append(
                {
                    "task": task_id if not mapped else f"{task_id}[{map_index}]",
                    "state": t_state,
                    "tries": tries,
                    "scheduled": _utc(sched),
                    "queued": _utc(t_queued),
                    "started": _utc(t_start),
                    "ended": _utc(t_end),
                    **_task_log(log_file),
                }
            )
        entry["tasks"].sort(key=lambda t: t["started"] or math.inf)
        entry["cycle"] = body.get(run_id)
        entry["figures"] = _run_figures(entry)
        out.append(entry)
    return {"runs": out, "typical": _typical(out)}


def _cycle_bodies(analyst: Path) -> dict[str, dict[str, float | None]]:
    """From the pipeline's own records: when each run's collect code started polling (its fetches'
    start) and when its load code started (the run's ``finished_at``, the load's clock)."""
    if not analyst.exists():
        return {}
    import duckdb

    try:
        with duckdb.connect(str(analyst), read_only=True) as con:
            rows = con.execute("select run_id, started_at, finished_at from runs").fetchall()
    except duckdb.Error:
        return {}
    return {r[0]: {"collect_polling_started": _utc(r[1]), "load_code_started": _utc(r[2])} for r in rows}


def _run_figures(entry: dict[str, Any]) -> dict[str, Any]:
    """Where a run's time went: Airflow's (waiting to start, tasks' start-up and wind-down, gaps
    between tasks) and the tasks' own code."""
    tasks = [t for t in entry["tasks"] if t["started"] and t["ended"]]
    if not tasks or entry["due"] is None:
        return {}
    first_start = min(t["started"] for t in tasks)
    last_end = max(t["ended"] for t in tasks)
    startup = [t["code_start"] - t["started"] for t in tasks if t.get("code_start")]
    wind_down = [t["ended"] - t["code_end"] for t in tasks if t.get("code_end")]
    code = [t["code_end"] - t["code_start"] for t in tasks if t.get("code_start") and t.get("code_end")]
    # Gaps: from one task's end to the next task's start, along the run (tasks run one after another).
    gaps, waits = [], []
    ordered = sorted(tasks, key=lambda t: t["started"])
    for before, after in zip(ordered, ordered[1:], strict=False):
        gaps.append(max(0.0, after["started"] - before["ended"]))
    for t in tasks:
        if t["scheduled"] and t["queued"]:
            waits.append(t["queued"] - t["scheduled"])
    total = last_end - entry["due"]
    return {
        "due_to_first_task_start_s": first_start - entry["due"],
        "first_task_start_to_last_task_end_s": last_end - first_start,
        "due_to_last_task_end_s": total,
        "task_startup_s": sum(startup),
        "task_startup_each_s": startup,
        "task_wind_down_s": sum(wind_down),
        "gaps_between_tasks_s": sum(gaps),
        "gaps_each_s": gaps,
        "scheduled_to_queued_each_s": waits,
        "task_code_s": sum(code),
        "airflow_s": total - sum(code) if len(code) == len(tasks) else None,
    }


def _typical(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of each DAG, and the alerts run's delay after the load it follows."""
    out: dict[str, Any] = {}
    for dag_id in ("vigia_ingest", "vigia_alerts"):
        figures = [r["figures"] for r in runs if r["dag_id"] == dag_id and r["figures"]]
        keys = [k for k, v in (figures[0] if figures else {}).items() if isinstance(v, float | int)]
        out[dag_id] = {
            "runs": len(figures),
            **{k: _median([f[k] for f in figures if f.get(k) is not None]) for k in keys},
        }
    ingest = [r for r in runs if r["dag_id"] == "vigia_ingest" and r["ended"]]
    alerts = [r for r in runs if r["dag_id"] == "vigia_alerts" and r["queued"]]
    delays = []
    for run in ingest:
        load_end = max((t["ended"] for t in run["tasks"] if t["task"] == "load" and t["ended"]), default=None)
        following = [a for a in alerts if load_end is not None and a["queued"] >= load_end - 1]
        if following:
            first = min(following, key=lambda a: a["queued"])
            start = min((t["started"] for t in first["tasks"] if t["started"]), default=None)
            if start is not None:
                delays.append(start - load_end)
    out["load_end_to_alerts_first_task_s"] = _median(delays)
    return out


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def breakdown(items: list[dict[str, Any]], share: dict[str, Any], t0: float) -> dict[str, Any]:
    """Each delivered item's latency cut at the run that loaded it: waiting for that run to be due,
    the run from due to its load's end, and from there to the analyst copy's poll and the email."""
    runs = [r for r in share.get("runs", []) if r["dag_id"] == "vigia_ingest" and r["figures"]]
    parts: dict[str, list[float]] = {"wait_for_run": [], "run_due_to_load_end": [], "load_end_to_seen": []}
    for item in items:
        if item["analyst_s"] is None:
            continue
        seen = item["published"] + item["analyst_s"]
        loads = [
            (t["ended"], r)
            for r in runs
            for t in r["tasks"]
            if t["task"] == "load" and t["ended"] and t["ended"] <= seen + 1
        ]
        if not loads:
            continue
        load_end, run = max(loads, key=lambda x: x[0])
        parts["wait_for_run"].append(max(0.0, run["due"] - item["published"]))
        parts["run_due_to_load_end"].append(load_end - max(run["due"], item["published"]))
        parts["load_end_to_seen"].append(max(0.0, seen - load_end))
    return {
        k: {"median_s": _median(v), "p95_s": percentile(v, 0.95) if v else None} for k, v in parts.items()
    }


def report(r: dict[str, Any]) -> str:
    m, a, e = r["meta"], r["analyst"], r["email"]
    typical = r["airflow"].get("typical", {})
    ingest, alerts = typical.get("vigia_ingest", {}), typical.get("vigia_alerts", {})

    def mins(s: float | None) -> str:
        if s is None or (isinstance(s, float) and math.isnan(s)):
            return "n/a"
        return "never" if math.isinf(s) else f"{s / 60:.1f} min"

    def secs(s: float | None) -> str:
        return "n/a" if s is None else f"{s:.1f} s"

    def mark(value: float, target: float) -> str:
        return "  [target met]" if value <= target else "  [target missed]"

    def line(label: str, text: str) -> str:
        return f"{label + ' ':.<40} {text}"

    hot_items = sum(1 for i in r["items"] if i["kind"] == "hot")

    def kind(name: str, key: str) -> dict[str, Any]:
        mine = [i for i in r["items"] if i["kind"] == name]
        if key == "email_s":
            mine = [i for i in mine if i.get("own_story") or i["analyst_s"] is None]
        return summary([i[key] for i in mine])

    lines = [
        f"Vigía freshness {m['when']}: {m['minutes']:g} min of publishing, {m['feeds']['hot']} hot and "
        f"{m['feeds']['quiet']} quiet feeds on {m['hosts']} hosts ({m['latency_ms'][0]:.0f}-"
        f"{m['latency_ms'][-1]:.0f} ms latency); load average {m['load_average_at_start'][0]:.1f} at start",
        "",
        line("Items published in the window", f"{a['items']} ({hot_items} from hot feeds)"),
        line(
            "Publication → analyst copy",
            f"p50 {mins(a['p50_s'])}, p95 {mins(a['p95_s'])}, max {mins(a['max_s'])}; "
            f"{a['delivered']}/{a['items']} delivered",
        ),
        line(
            "Publication → digest email",
            f"p50 {mins(e['p50_s'])}, p95 {mins(e['p95_s'])}, max {mins(e['max_s'])}; "
            f"{e['delivered']}/{e['items']} mailed",
        ),
    ]
    # The targets are for feeds that publish often: the hot ones.
    for name in ("hot", "quiet"):
        to_copy, to_mail = kind(name, "analyst_s"), kind(name, "email_s")
        if not to_copy["items"]:
            continue
        hot = name == "hot"
        lines.append(
            line(
                f"  {name} feeds' items ({to_copy['items']})",
                f"analyst copy p50 {mins(to_copy['p50_s'])}, p95 {mins(to_copy['p95_s'])}"
                + (mark(to_copy["p95_s"], TARGETS["analyst_p95_s"]) if hot else "")
                + f"; email p50 {mins(to_mail['p50_s'])}, p95 {mins(to_mail['p95_s'])}"
                + (mark(to_mail["p95_s"], TARGETS["email_p95_s"]) if hot else ""),
            )
        )
    b = r.get("breakdown", {})
    if b.get("wait_for_run", {}).get("median_s") is not None:
        lines.append(
            line(
                "  an item's time, median (p95)",
                "; ".join(
                    f"{k.replace('_', ' ')} {secs(v['median_s'])} ({secs(v['p95_s'])})" for k, v in b.items()
                ),
            )
        )
    lines += [
        line(
            "Airflow, vigia_ingest (median a run)",
            f"{ingest.get('runs', 0)} runs; due → first task "
            f"{secs(ingest.get('due_to_first_task_start_s'))}; "
            f"tasks' start-up {secs(ingest.get('task_startup_s'))}, wind-down "
            f"{secs(ingest.get('task_wind_down_s'))}, gaps between tasks "
            f"{secs(ingest.get('gaps_between_tasks_s'))}; tasks' code {secs(ingest.get('task_code_s'))}; "
            f"due → load end {secs(ingest.get('due_to_last_task_end_s'))}, of which Airflow's "
            f"{secs(ingest.get('airflow_s'))}",
        ),
        line(
            "Airflow, vigia_alerts (median a run)",
            f"{alerts.get('runs', 0)} runs; load end → first alerts task "
            f"{secs(typical.get('load_end_to_alerts_first_task_s'))}; tasks' start-up "
            f"{secs(alerts.get('task_startup_s'))}, gaps {secs(alerts.get('gaps_between_tasks_s'))}; "
            f"tasks' code {secs(alerts.get('task_code_s'))}; first task → last end "
            f"{secs(alerts.get('first_task_start_to_last_task_end_s'))}",
        ),
        line(
            "The web",
            f"{r['web']['requests']}; server CPU {secs(r['web']['server_cpu_s'])}",
        ),
        line("Start-up", f"make run to the first load and its digest: {secs(m['first_load_and_digest_s'])}"),
    ]
    return "\n".join(lines)
