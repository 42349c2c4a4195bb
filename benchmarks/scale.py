"""Scale: a registry of N local feeds, a first cycle, then cycles in which nothing changed.

    .venv/bin/python -m benchmarks.run --scale [N] [--unchanged 304|200|both]
    make bench MODE=scale

N feeds (default 100,000) over 32 loopback hosts, served by ``benchmarks.scaleweb`` in separate
processes (their CPU is measured and left out of Vigía's). In one run:

1. **a first cycle** (``pipeline.ingest``'s plan, collect and load, as ``python -m pipeline run``
   composes them, in this process): every feed answers 200, its two items link to a few
   thousand pages in all;
2. **unchanged cycles**, the same way, once with every feed answering 304 to its conditional GET
   and once with every feed answering 200 with the same body (a server ignoring validators):
   wall, CPU of every process (this one and the workers), peak memory (RSS of all processes),
   by stage: plan (feeds.toml read, feed states read, jobs made), polling, the load's feed-state
   update, fetch log, the rest of the load, and the publication of the analyst copy;
3. **the same unchanged cycles as the CLI runs them** (``python -m pipeline run``, a process of
   its own): CPU with the interpreter's start-up and imports included;
4. **httpx alone** (``benchmarks.httpx_alone``): the same N conditional GETs with the same
   concurrency and per-host limit against the same servers, nothing else; its CPU a request is
   the yardstick for Vigía's CPU per unchanged feed. Beside it, **aiohttp alone** (the client
   Vigía's fetcher is built on, ``benchmarks.http_clients``), for what the client itself costs.

The issue's targets: at most 0.3 ms of CPU per unchanged feed (start-up included), peak memory
under 500 MB at 100,000 feeds.
"""

from __future__ import annotations

import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.corpus import REPO

TARGETS = {"cpu_ms_per_feed": 0.3, "peak_mb": 500.0}
MB = 1024 * 1024
HOSTS = 32


def _run_measured(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` to its end: wall, CPU of it and every descendant (the kernel's accounting of the
    processes reaped), and the peak of the summed RSS of its process tree (sampled every 50 ms)."""
    import threading

    import psutil

    from benchmarks.measure import _tree

    peak = 0
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            rss = 0
            for pid in _tree(proc.pid, set()):
                try:
                    rss += psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
            peak = max(peak, rss)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    return {
        "exit": proc.returncode,
        "stdout": out,
        "stderr": err,
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": _children_cpu() - cpu0,
        "peak_rss_mb": peak / MB,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: Any) -> dict[str, Any]:
    import psutil

    from benchmarks.measure import TreeMonitor
    from benchmarks.scaleweb import ScaleWeb
    from pipeline.settings import Settings

    n = args.scale
    modes = ["304", "200"] if args.unchanged == "both" else [args.unchanged]
    results: dict[str, Any] = {
        "meta": {
            "when": _now(),
            "feeds": n,
            "hosts": HOSTS,
            "workers": args.workers,
            "server_processes": args.server_processes,
            "load_average_at_start": os.getloadavg(),
        }
    }
    with (
        tempfile.TemporaryDirectory(prefix="vigia-scale-") as tmp,
        ScaleWeb(n, HOSTS, args.server_processes) as web,
    ):
        work = Path(tmp)
        web.start()
        servers = [psutil.Process(pid) for pid in web.pids]
        feeds_path = work / "feeds.toml"
        feeds_path.write_text(
            "".join(f'[[feed]]\nname = "s{i:06d}"\nurl = "{url}"\n\n' for i, url in enumerate(web.urls())),
            encoding="utf-8",
        )
        db = work / "db" / "scale.duckdb"
        settings = Settings.from_env(
            env={},
            feeds_path=feeds_path,
            db_path=db,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            workers=args.workers,
            max_new_per_feed=1_000_000,
            collect_budget=24 * 3600.0,
        )
        results["meta"]["registry_bytes"] = feeds_path.stat().st_size

        def server_cpu() -> float:
            return sum(sum(p.cpu_times()[:2]) for p in servers)

        with TreeMonitor(exclude=set(web.pids)) as tree:
            results["first_cycle"] = _cycle(settings, tree, "scale-first", web, server_cpu)
            for mode in modes:
                web.mode(mode)
                if mode == "304":
                    # The first 304 after a 200 is a change (its feed's last outcome moves): the
                    # cycle measured is the next one, in which nothing at all changed.
                    results["unchanged_304_first"] = _cycle(
                        settings, tree, "scale-unchanged-304-first", web, server_cpu
                    )
                results[f"unchanged_{mode}"] = _cycle(
                    settings, tree, f"scale-unchanged-{mode}", web, server_cpu
                )
            for mode in modes:
                web.mode(mode)
                results[f"cli_unchanged_{mode}"] = _cli_cycle(settings, web, server_cpu)
            web.mode("304")
            results["httpx_alone"] = _httpx_alone(settings, work, web, server_cpu)
            results["aiohttp_alone"] = _httpx_alone(settings, work, web, server_cpu, client="aiohttp")
        results["db_mb"] = db.stat().st_size / MB
    results["ratios"] = _ratios(results, modes)
    return results


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _cycle(settings, tree, run_id: str, web, server_cpu) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One cycle in this process, stage by stage, as ``ingest.run_once`` composes it."""
    from benchmarks.measure import Stage, timed
    from pipeline import registry, staging
    from pipeline import tasks as ingest
    from pipeline.load import transaction as load_module
    from pipeline.store import publication, reads

    plan_steps: dict[str, float] = {}
    load_steps: dict[str, float] = {}
    server0, requests0 = server_cpu(), web.stats()
    logged0 = _fetch_rows(settings)
    plan_targets = [
        (ingest, "read_registry"),
        (registry, "parse_registry"),  # only when feeds.toml is not the one the database lists
        (reads, "planned_feeds"),  # when it is
        (reads, "feed_states"),
        (ingest, "plan_jobs"),
    ]
    with Stage(tree) as total:
        with Stage(tree) as plan, timed(plan_targets, plan_steps):
            jobs = [job for batch in ingest.plan(settings) for job in batch]
        with Stage(tree) as collect:
            batch = ingest.collect(settings, jobs)
        with Stage(tree) as load:
            feeds = registry.read_registry(settings.feeds_path)
            tables = staging.batch_tables(batch)
            targets = [
                (registry, "parse_registry"),
                (load_module, "upsert_feeds"),
                (load_module, "_load_feed_states"),
                (load_module, "_load_fetches"),
                (load_module, "_load_articles"),
                (load_module, "_load_sources"),
                (publication, "publish"),
            ]
            with timed(targets, load_steps):
                summary = ingest.load(settings, tables, run_id, feeds=feeds)
    requests = web.stats()
    n = len(jobs)
    figures = {
        "feeds": n,
        "fetches_rows_added": _fetch_rows(settings) - logged0,
        "outcomes": dict(Counter(f.outcome for f in batch.fetches)),
        "articles": len(batch.articles),
        "new_articles": summary.new_articles,
        "wall_s": total.wall,
        "cpu_s": total.tree_cpu,
        "cpu_ms_per_feed": total.tree_cpu * 1000 / n if n else None,
        "peak_rss_mb": total.peak_rss / MB,
        "stages": {
            "plan": {
                "wall_s": plan.wall,
                "cpu_s": plan.tree_cpu,
                "peak_rss_mb": plan.peak_rss / MB,
                "steps_s": plan_steps,
            },
            "collect": {
                "wall_s": collect.wall,
                "cpu_s": collect.tree_cpu,
                "main_cpu_s": collect.main_cpu,
                "workers_cpu_s": max(0.0, collect.tree_cpu - collect.main_cpu),
                "peak_rss_mb": collect.peak_rss / MB,
            },
            "load": {
                "wall_s": load.wall,
                "cpu_s": load.tree_cpu,
                "peak_rss_mb": load.peak_rss / MB,
                "steps_s": load_steps,
            },
        },
        "server": {
            "cpu_s": server_cpu() - server0,
            **{k: v - requests0.get(k, 0) if not k.startswith("peak") else v for k, v in requests.items()},
        },
    }
    figures["polling_requests_per_s"] = n / collect.wall if collect.wall else None
    return figures


def _fetch_rows(settings) -> int:  # type: ignore[no-untyped-def]
    """Rows in the fetch log (0 before the first cycle)."""
    import duckdb

    if not settings.db_path.exists():
        return 0
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        return int(con.execute("select count(*) from fetches").fetchone()[0])
    finally:
        con.close()


def _cli_cycle(settings, web, server_cpu) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``python -m pipeline run`` in a process of its own: CPU with start-up, imports and workers
    (every descendant, from the kernel's accounting of the processes that ended), peak RSS of the
    process tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    env.update(
        VIGIA_FEEDS=str(settings.feeds_path),
        VIGIA_DB=str(settings.db_path),
        VIGIA_ALLOW_NETWORKS="127.0.0.0/8",
        VIGIA_WORKERS=str(settings.workers),
        VIGIA_MAX_NEW_PER_FEED=str(settings.max_new_per_feed),
    )
    server0, requests0 = server_cpu(), web.stats()
    done = _run_measured([sys.executable, "-m", "pipeline", "run"], env)
    requests = web.stats()
    feeds = sum(requests.get(k, 0) - requests0.get(k, 0) for k in ("not_modified", "feeds"))
    return {
        "exit": done["exit"],
        "summary": done["stdout"].strip().splitlines()[-1:],
        "stderr_tail": done["stderr"].strip().splitlines()[-3:] if done["exit"] else [],
        "wall_s": done["wall_s"],
        "cpu_s": done["cpu_s"],
        "feeds_asked": feeds,
        "cpu_ms_per_feed": done["cpu_s"] * 1000 / feeds if feeds else None,
        "peak_rss_mb": done["peak_rss_mb"],
        "connections": requests.get("connections", 0) - requests0.get("connections", 0),
        "server_cpu_s": server_cpu() - server0,
    }


def _httpx_alone(settings, work: Path, web, server_cpu, client: str = "httpx") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The same conditional GETs (each feed's URL and the ETag the cycles stored) by httpx alone,
    or (``client="aiohttp"``) by the client Vigía's fetcher is built on, alone."""
    import duckdb

    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        rows = con.execute("select url, coalesce(etag, '') from feeds where enabled order by name").fetchall()
    listing = work / "conditional-gets.tsv"
    listing.write_text("".join(f"{url}\t{etag}\n" for url, etag in rows), encoding="utf-8")
    server0, requests0 = server_cpu(), web.stats()
    if client == "httpx":
        cmd = [sys.executable, "-m", "benchmarks.httpx_alone", str(listing)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.http_clients",
            "--candidate",
            client,
            "--listing",
            str(listing),
        ]
    cmd += ["--concurrency", str(settings.concurrency), "--per-host", str(settings.per_host_concurrency)]
    done = _run_measured(cmd)
    if done["exit"]:
        raise RuntimeError(f"{client} alone failed: {done['stderr'][-2000:]}")
    inner = json.loads(done["stdout"].strip().splitlines()[-1])
    requests = web.stats()
    return {
        **inner,
        "process_wall_s": done["wall_s"],
        "process_cpu_s": done["cpu_s"],
        "cpu_ms_per_request": inner["cpu_s"] * 1000 / inner["requests"],
        "process_cpu_ms_per_request": done["cpu_s"] * 1000 / inner["requests"],
        "peak_rss_mb": done["peak_rss_mb"],
        "connections": requests.get("connections", 0) - requests0.get("connections", 0),
        "server_cpu_s": server_cpu() - server0,
    }


def _ratios(r: dict[str, Any], modes: list[str]) -> dict[str, Any]:
    alone = r["httpx_alone"]
    out: dict[str, Any] = {}
    for mode in modes:
        cycle, cli = r[f"unchanged_{mode}"], r[f"cli_unchanged_{mode}"]
        out[mode] = {
            # Start-up excluded: the cycle in this process against the requests alone in theirs.
            "cpu_vs_httpx_alone": cycle["cpu_ms_per_feed"] / alone["cpu_ms_per_request"],
            # Start-up included on both sides: whole processes.
            "cli_cpu_vs_httpx_alone_process": (
                cli["cpu_ms_per_feed"] / alone["process_cpu_ms_per_request"]
                if cli.get("cpu_ms_per_feed")
                else None
            ),
            "polling_cpu_vs_httpx_alone": cycle["stages"]["collect"]["cpu_s"] / alone["cpu_s"],
            "polling_wall_vs_httpx_alone": cycle["stages"]["collect"]["wall_s"] / alone["wall_s"],
        }
        if r.get("aiohttp_alone"):
            out[mode]["cpu_vs_aiohttp_alone"] = (
                cycle["cpu_ms_per_feed"] / r["aiohttp_alone"]["cpu_ms_per_request"]
            )
    return out


def report(r: dict[str, Any]) -> str:
    m, alone = r["meta"], r["httpx_alone"]

    def line(label: str, text: str) -> str:
        return f"{label + ' ':.<40} {text}"

    def steps(values: dict[str, float]) -> str:
        return ", ".join(f"{k.strip('_')} {v:.2f} s" for k, v in values.items())

    def mark(ok: bool) -> str:
        return "  [target met]" if ok else "  [target missed]"

    def stage(s: dict[str, Any]) -> str:
        return f"{s['wall_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU, peak {s['peak_rss_mb']:.0f} MB"

    lines = [
        f"Vigía scale {m['when']}: {m['feeds']:,} feeds on {m['hosts']} loopback hosts, "
        f"{m['workers']} workers, {m['server_processes']} server processes; "
        f"load average {m['load_average_at_start'][0]:.1f} at start",
        "",
    ]
    kinds = (
        ("first_cycle", "First cycle"),
        ("unchanged_304_first", "First 304s (after 200s)"),
        ("unchanged_304", "Unchanged, 304"),
    )
    for key, label in (*kinds, ("unchanged_200", "Unchanged, 200 same body")):
        c = r.get(key)
        if not c:
            continue
        st, server = c["stages"], c["server"]
        outcomes = ", ".join(f"{v:,} {k}" for k, v in c["outcomes"].items())
        lines += [
            line(
                label,
                f"{c['wall_s']:.1f} s wall, {c['cpu_s']:.1f} s CPU (all processes, start-up excluded) = "
                f"{c['cpu_ms_per_feed']:.3f} ms a feed; peak {c['peak_rss_mb']:.0f} MB (the harness's too)",
            ),
            line(
                "  outcomes",
                f"{outcomes}; {c['articles']:,} articles;"
                f" {c.get('fetches_rows_added', 0):,} rows added to fetches",
            ),
            line("  plan", f"{stage(st['plan'])} ({steps(st['plan']['steps_s'])})"),
            line(
                "  polling",
                f"{stage(st['collect'])} (main {st['collect']['main_cpu_s']:.2f}, workers "
                f"{st['collect']['workers_cpu_s']:.2f}); {c['polling_requests_per_s']:,.0f} feeds/s",
            ),
            line("  load", f"{stage(st['load'])} ({steps(st['load']['steps_s'])})"),
            line(
                "  server",
                f"{server['cpu_s']:.2f} s CPU (not counted); {server.get('connections', 0):,} connections "
                f"opened, at most {server.get('peak_open_host', 0)} open on one host",
            ),
        ]
    for mode in ("304", "200"):
        cli = r.get(f"cli_unchanged_{mode}")
        if cli:
            per_feed = cli["cpu_ms_per_feed"] or 0.0
            lines.append(
                line(
                    f"CLI, unchanged {mode} (pipeline run)",
                    f"{cli['wall_s']:.1f} s wall, {cli['cpu_s']:.1f} s CPU with start-up = "
                    f"{per_feed:.3f} ms a feed"
                    + mark(0 < per_feed <= TARGETS["cpu_ms_per_feed"])
                    + f"; peak {cli['peak_rss_mb']:.0f} MB (its processes)"
                    + mark(cli["peak_rss_mb"] < TARGETS["peak_mb"])
                    + f"; {cli['connections']:,} connections; exit {cli['exit']}",
                )
            )
    lines.append(
        line(
            "httpx alone, same conditional GETs",
            f"{alone['wall_s']:.1f} s wall, {alone['cpu_s']:.1f} s CPU = "
            f"{alone['cpu_ms_per_request']:.3f} ms a request "
            f"({alone['process_cpu_ms_per_request']:.3f} ms with start-up); {alone['statuses']}; "
            f"peak {alone['peak_rss_mb']:.0f} MB; {alone['connections']:,} connections",
        )
    )
    aio = r.get("aiohttp_alone")
    if aio:
        lines.append(
            line(
                "aiohttp alone (Vigía's client)",
                f"{aio['wall_s']:.1f} s wall, {aio['cpu_s']:.1f} s CPU = "
                f"{aio['cpu_ms_per_request']:.3f} ms a request "
                f"({aio['process_cpu_ms_per_request']:.3f} ms with start-up); {aio['statuses']}; "
                f"peak {aio['peak_rss_mb']:.0f} MB; {aio['connections']:,} connections",
            )
        )
    for mode, ratio in r["ratios"].items():
        included = ratio["cli_cpu_vs_httpx_alone_process"]
        lines.append(
            line(
                f"  Vigía / httpx alone, {mode}",
                f"CPU a feed {ratio['cpu_vs_httpx_alone']:.2f}x (start-up excluded)"
                + (f", {included:.2f}x (included)" if included else "")
                + f"; polling alone {ratio['polling_cpu_vs_httpx_alone']:.2f}x CPU, "
                f"{ratio['polling_wall_vs_httpx_alone']:.2f}x wall"
                + (
                    f"; CPU a feed {ratio['cpu_vs_aiohttp_alone']:.1f}x aiohttp alone"
                    if "cpu_vs_aiohttp_alone" in ratio
                    else ""
                ),
            )
        )
    lines.append(line("Database", f"{r['db_mb']:.0f} MB after the run"))
    return "\n".join(lines)
