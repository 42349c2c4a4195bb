"""``make bench``: how fast Vigía is on this machine, against its limit and against a cron script.

    .venv/bin/python -m benchmarks.run            # the full corpus: 200 feeds, ~6,500 items, 181 pages
    .venv/bin/python -m benchmarks.run --quick    # 40 of the feeds (or VIGIA_BENCH_QUICK=1)
    .venv/bin/python -m benchmarks.run --tiny     # a generated handful, in seconds (the test suite's)
    .venv/bin/python -m benchmarks.run --freshness [--minutes 20]   # publication → analyst copy / email
    .venv/bin/python -m benchmarks.run --scale [N]                  # N unchanged feeds (100,000)
    .venv/bin/python -m benchmarks.run --publication [--articles N] # the analyst copy at 1M articles

Serves ``../shared/corpus`` (or, without it, a generated corpus of the same shape) on loopback
hosts (``benchmarks.server``), then, in one run: a first cycle through ``pipeline.tasks`` (fetch,
extract, classify, load) into a fresh database, two more cycles in which nothing changed, the F1
of the stored texts, the extraction limit, the cron-script way, and a bulk load. Prints the
figures and writes them as JSON under ``bench-results/`` to compare commits. docs/performance.md
says what each figure means.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.corpus import REPO, SHARED, Corpus, generate, load, serve
from benchmarks.corpus import feeds_toml as make_feeds_toml

# Worker processes (forkserver) import this module again as their parent's __main__: it must stay
# light, or their address-space limit (VIGIA_WORKER_MEMORY_MB) is spent on DuckDB and Arrow before
# their first page. The heavy imports are inside run().

QUICK_FEEDS = 40
# The targets, checked in the report.
TARGETS = {
    "vs_limit": 0.85,
    "vs_cron": 3.0,
    "unchanged_s": 1.0,
    "peak_mb": 600,
    "f1": 0.95,
    "rows_per_s": 20_000,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("VIGIA_BENCH_QUICK") == "1",
        help=f"{QUICK_FEEDS} of the feeds",
    )
    size.add_argument("--tiny", action="store_true", help="a generated corpus of 3 feeds and 5 pages (tests)")
    size.add_argument("--feeds", type=int, help="this many of the feeds")
    size.add_argument(
        "--freshness",
        action="store_true",
        help="publication to analyst copy and email under `make run` (benchmarks/freshness.py)",
    )
    size.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=100_000,
        metavar="N",
        help="N local feeds: a first cycle, then unchanged ones (default 100,000; benchmarks/scale.py)",
    )
    size.add_argument(
        "--publication",
        action="store_true",
        help="publishing the analyst copy as the archive grows (benchmarks/publication.py)",
    )
    fresh = parser.add_argument_group("freshness mode")
    fresh.add_argument("--minutes", type=float, default=20.0, help="how long the feeds publish")
    fresh.add_argument(
        "--drain-minutes", type=float, default=20.0, help="at most this long after, for the last items"
    )
    fresh.add_argument("--hot", type=int, default=4, help="feeds publishing about every 75 s")
    fresh.add_argument("--quiet", type=int, default=8, help="feeds publishing every 40 min or so")
    fresh.add_argument("--poll", type=float, default=2.0, help="seconds between reads of the analyst copy")
    fresh.add_argument("--seed", type=int, default=20, help="the publication schedule's seed")
    fresh.add_argument("--keep", action="store_true", help="keep the run's directory (Airflow home, logs)")
    scale = parser.add_argument_group("scale mode")
    scale.add_argument(
        "--unchanged",
        choices=("304", "200", "both"),
        default="both",
        help="how an unchanged feed answers: 304, 200 with the same body, or each in turn",
    )
    scale.add_argument("--server-processes", type=int, default=2, help="processes serving the feeds")
    pub = parser.add_argument_group("publication mode")
    pub.add_argument("--articles", type=int, default=1_000_000, help="articles in the largest database")
    pub.add_argument("--db", type=Path, help="where the databases are built (default data/bench/)")
    parser.add_argument("--generated", action="store_true", help="generate a corpus even if ../shared exists")
    parser.add_argument("--corpus", type=Path, default=SHARED, help="the shared corpus directory")
    parser.add_argument(
        "--hosts", type=int, help="loopback hosts the feeds are spread over (16; freshness mode: 4)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="server delay before each answer")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--bulk-rows", type=int, help="rows of the bulk-load measurement (default 20,000)")
    parser.add_argument("--no-cron", action="store_true", help="skip the cron-script comparison")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results", help="where the JSON goes")
    return parser.parse_args(argv)


def choose_corpus(args: argparse.Namespace) -> Corpus:
    if args.tiny:
        return generate(feeds=3, items=4, pages=5)
    corpus = generate() if args.generated else load(args.corpus)
    return corpus.limit_feeds(QUICK_FEEDS if args.quick else args.feeds)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    from benchmarks import baselines, phases
    from benchmarks.measure import TreeMonitor
    from benchmarks.server import CorpusServer
    from pipeline.extract.pages import decode_html
    from pipeline.settings import Settings

    corpus = choose_corpus(args)
    args.hosts = args.hosts or 16
    hosts = 2 if args.tiny else args.hosts
    results: dict[str, Any] = {"meta": _meta(args, corpus)}
    with (
        tempfile.TemporaryDirectory(prefix="vigia-bench-") as tmp,
        CorpusServer(hosts, args.latency_ms) as web,
    ):
        work = Path(tmp)
        served = serve(corpus, web.hosts)
        keep, dropped = phases.local_only(served)
        served.feed_urls = [served.feed_urls[i] for i in keep]
        served.feed_bodies = [served.feed_bodies[i] for i in keep]
        web.start(served, work / "web")
        results["meta"].update(feeds_served=len(keep), feeds_left_out=dropped, pages=len(served.pages))
        truth, page_names = corpus.truth, [p.name for p in served.pages]
        # The server has its own copy: the harness keeps only names, so its memory is not the pipeline's.
        served.feed_bodies = []
        del corpus
        (work / "feeds.toml").write_text(make_feeds_toml(served), encoding="utf-8")
        settings = Settings.from_env(
            env={},
            feeds_path=work / "feeds.toml",
            db_path=work / "db" / "bench.duckdb",
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            workers=args.workers,
            # The whole corpus in the first cycle, as before the flood limits: one corpus feed lists
            # 1,046 items (over the 500 a cycle), and a loaded machine may need more than 480 s.
            max_new_per_feed=1_000_000,
            collect_budget=24 * 3600.0,
        )
        server = psutil.Process(web.pid)
        with TreeMonitor(exclude={web.pid}) as tree:
            first, batch = phases.cycle(settings, tree, "bench-first")
            results["first_cycle"] = first
            results["repeat_cycle"], _ = phases.cycle(settings, tree, "bench-repeat")
            before = web.stats()
            results["unchanged_cycle"], _ = phases.cycle(settings, tree, "bench-unchanged")
            after = web.stats()
            results["unchanged_cycle"]["server"] = {k: after[k] - before[k] for k in after}
            results["f1"] = phases.stored_f1(settings.db_path, served, truth)
            results["backfill"] = phases.backfill(settings, tree)

            order = phases.extracted_pages(batch, len(page_names))
            pages = [
                decode_html((work / "web" / "pages" / f"{i}").read_bytes())[0] for i in range(len(page_names))
            ]
            with phases.Stage(tree) as limit_stage:
                limit = baselines.extraction_limit(pages, order, args.workers)
            results["limit"] = limit
            results["limit"]["peak_rss_mb"] = limit_stage.peak_rss / phases.MB
            results["limit_f1"] = phases.limit_f1(limit.pop("texts"), served, truth)
            # The same with trafilatura's own title, author and date: the pipeline stores those too.
            meta_limit = baselines.extraction_limit(pages, order, args.workers, with_metadata=True)
            meta_limit.pop("texts")
            results["limit_with_metadata"] = meta_limit

            del pages
            if not args.no_cron:
                from pipeline.classify.versions import load_model

                model = load_model()
                with phases.Stage(tree) as cron_stage:
                    results["cron"] = baselines.cron_script(served.feed_urls, work / "cron.duckdb", model)
                results["cron"]["peak_rss_mb"] = cron_stage.peak_rss / phases.MB
            rows = args.bulk_rows or (200 if args.tiny else 20_000)
            results["bulk_load"] = phases.bulk_load(settings, batch, rows, work)
            results["peak_rss_mb"] = tree.peak_rss / phases.MB
        results["server_cpu_s"] = sum(server.cpu_times()[:2]) if server.is_running() else None
    results["ratios"] = _ratios(results)
    return results


def _ratios(r: dict[str, Any]) -> dict[str, float | None]:
    first = r["first_cycle"]
    e2e = first["pages_per_s"]
    limit = r["limit"]["pages_per_s"]
    cron = r.get("cron", {}).get("articles_per_s")
    # The same, leaving out the load's upkeep of stories and the search index (other modules' work
    # that neither yardstick does): where the rest of the pipeline stands.
    steps = first["stages"]["load"].get("steps_s", {})
    upkeep = sum(steps.get(k, 0.0) for k in ("assign", "refresh_trends", "index_articles"))
    lean = first["pages_extracted"] / (first["wall_s"] - upkeep) if first["wall_s"] > upkeep else 0.0
    return {
        "end_to_end_vs_limit": e2e / limit if limit else None,
        "end_to_end_vs_cron": e2e / cron if cron else None,
        "end_to_end_vs_limit_with_metadata": (
            e2e / r["limit_with_metadata"]["pages_per_s"] if r.get("limit_with_metadata") else None
        ),
        "without_stories_and_search_pages_per_s": lean,
        "without_stories_and_search_vs_limit": lean / limit if limit else None,
        "without_stories_and_search_vs_cron": lean / cron if cron else None,
        **_ceiling(r),
    }


def _ceiling(r: dict[str, Any]) -> dict[str, float | None]:
    """The fastest the first cycle could have been with every CPU busy from start to end.

    The pipeline's CPU a page (the whole process tree's, load included) caps its rate at
    ``cpus × 1000 / ms a page`` however well the work is scheduled; set against the limit and the
    cron script, it tells how much of a ratio is scheduling (end to end / ceiling) and how much is
    work done per page (ceiling / limit).
    """
    first, cpus = r["first_cycle"], r["meta"]["cpus"] or 1
    if not first["pages_extracted"] or not first["cpu_s"]:
        return {"cpu_per_page_vs_limit": None, "ceiling_pages_per_s": None}
    ms = first["cpu_s"] * 1000 / first["pages_extracted"]
    ceiling = cpus * 1000 / ms
    cron = r.get("cron", {}).get("articles_per_s")
    limit, limit_ms = r["limit"]["pages_per_s"], r["limit"]["cpu_ms_per_page"]
    return {
        "cpu_ms_per_page": ms,
        # CPU the whole first cycle spent per page, over what trafilatura alone spends per page.
        "cpu_per_page_vs_limit": ms / limit_ms if limit_ms else None,
        # The most CPU a page may cost for the targets to be within reach at all.
        "target_vs_limit_needs_ms": cpus * 1000 / (TARGETS["vs_limit"] * limit) if limit else None,
        "target_vs_cron_needs_ms": cpus * 1000 / (TARGETS["vs_cron"] * cron) if cron else None,
        "ceiling_pages_per_s": ceiling,
        "end_to_end_vs_ceiling": first["pages_per_s"] / ceiling,
        "ceiling_vs_limit": ceiling / limit if limit else None,
        "ceiling_vs_cron": ceiling / cron if cron else None,
    }


def _mode(args: argparse.Namespace) -> str:
    if args.tiny:
        return "tiny"
    if args.freshness:
        return "freshness"
    if args.scale:
        return f"scale{args.scale}"
    if args.publication:
        return "publication"
    if args.quick:
        return "quick"
    return f"{args.feeds} feeds" if args.feeds else "full"


def _meta(args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    import duckdb
    import feedparser
    import trafilatura

    from pipeline.extract.pages import EXTRACT_OPTIONS

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "pipeline", "benchmarks"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit + ("+changes" if dirty else ""),
        "mode": _mode(args),
        "corpus": corpus.source,
        "feeds": len(corpus.feeds),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "hosts": 2 if args.tiny else args.hosts,
        "latency_ms": args.latency_ms,
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "versions": {
            "trafilatura": trafilatura.__version__,
            "feedparser": feedparser.__version__,
            "duckdb": duckdb.__version__,
        },
        "extract_options": EXTRACT_OPTIONS,
    }


def report(r: dict[str, Any]) -> str:
    """The figures as a reader wants them: one line each, the issue's targets marked."""
    m, first, limit, unchanged, f1 = r["meta"], r["first_cycle"], r["limit"], r["unchanged_cycle"], r["f1"]
    st, ratios = first["stages"], r["ratios"]
    plan, collect, load = st["plan"], st["collect"], st["load"]
    tasks = collect["worker_tasks_cpu_s"]
    vs_limit = ratios["end_to_end_vs_limit"]
    lean = ratios["without_stories_and_search_pages_per_s"]
    lean_limit = ratios["without_stories_and_search_vs_limit"]
    lean_cron = ratios["without_stories_and_search_vs_cron"]

    def mark(ok: bool) -> str:
        return "  [target met]" if ok else "  [target missed]"

    def line(label: str, *parts: str) -> str:
        return f"{label + ' ':.<34} {''.join(parts)}"

    def seconds(steps: dict[str, float]) -> str:
        return ", ".join(f"{name.strip('_')} {value:.2f} s" for name, value in steps.items())

    ceiling_lines = []
    if ratios.get("ceiling_pages_per_s"):
        ceiling_lines = [
            line(
                "  CPU a page, all processes",
                f"{ratios['cpu_ms_per_page']:.1f} ms: with all {m['cpus']} CPUs busy throughout, ",
                f"at most {ratios['ceiling_pages_per_s']:.1f} pages/s ",
                f"(reached {ratios['end_to_end_vs_ceiling']:.2f} of it; it is ",
                f"{ratios['ceiling_vs_limit']:.2f} of the limit",
                f", {ratios['ceiling_vs_cron']:.2f}x cron)" if ratios.get("ceiling_vs_cron") else ")",
            ),
            line(
                "  what the targets need",
                f"at most {ratios['target_vs_limit_needs_ms']:.1f} ms a page ",
                f"({TARGETS['vs_limit']} of the limit)",
                f", {ratios['target_vs_cron_needs_ms']:.1f} ms ({TARGETS['vs_cron']:g}x cron)"
                if ratios.get("target_vs_cron_needs_ms")
                else "",
                f"; trafilatura alone takes {limit['cpu_ms_per_page']:.1f} ms of it",
            ),
        ]
    lines = [
        f"Vigía benchmark {m['when']}, commit {m['commit']}, {m['mode']}: {m['corpus']} corpus, "
        f"{m['feeds_served']} feeds, {m['pages']} pages; {m['cpus']} CPUs, {m['workers']} workers, "
        f"load average {m['load_average_at_start'][0]:.1f} at start",
        "",
        line(
            "First cycle, end to end",
            f"{first['pages_per_s']:.1f} pages/s: ",
            f"{first['pages_extracted']:,} pages extracted in {first['wall_s']:.1f} s ",
            f"({first['articles']:,} articles stored, {first['articles_per_s']:.1f}/s)",
        ),
        line(
            "  wall by stage",
            f"plan {plan['wall_s']:.2f} s, collect {collect['wall_s']:.1f} s, ",
            f"load {load['wall_s']:.1f} s",
        ),
        line(
            "  CPU by stage",
            f"main process while collecting {collect['main_cpu_s']:.1f} s; ",
            f"workers {collect['workers_cpu_s']:.1f} s (parse {tasks.get('parse', 0):.1f}, ",
            f"extract {tasks.get('extract', 0):.1f}, classify {tasks.get('classify', 0):.1f}); ",
            f"load {load['cpu_s']:.1f} s",
        ),
        line("  load steps (wall)", seconds(load.get("steps_s", {}))),
        *ceiling_lines,
        line(
            "  without stories, search upkeep",
            f"{lean:.1f} pages/s; / limit = {lean_limit:.2f}",
            f", / cron = {lean_cron:.2f}x" if lean_cron else "",
        ),
        line(
            "Limit: trafilatura alone",
            f"{limit['pages_per_s']:.1f} pages/s on {limit['workers']} ",
            f"processes ({limit['cpu_ms_per_page']:.1f} ms CPU a page); end to end / limit = {vs_limit:.2f}",
            mark(vs_limit >= TARGETS["vs_limit"]),
        ),
    ]
    if r.get("limit_with_metadata"):
        meta = r["limit_with_metadata"]
        lines.append(
            line(
                "  with title, author, date",
                f"{meta['pages_per_s']:.1f} pages/s ({meta['cpu_ms_per_page']:.1f} ms CPU a page); ",
                f"end to end / this = {ratios['end_to_end_vs_limit_with_metadata']:.2f}",
            )
        )
    if "cron" in r:
        cron, vs_cron = r["cron"], ratios["end_to_end_vs_cron"]
        lines += [
            line(
                "Cron script, one at a time",
                f"{cron['articles_per_s']:.1f} pages/s ",
                f"({cron['extracted']:,} pages in {cron['wall_s']:.1f} s); ",
                f"end to end / cron = {vs_cron:.2f}x",
                mark(vs_cron >= TARGETS["vs_cron"]),
            ),
            line("  its steps (wall)", seconds(cron["step_s"])),
        ]
    peak_mark = mark(first["peak_rss_mb"] < TARGETS["peak_mb"]) if first["articles"] >= 5000 else ""
    lines += [
        line(
            "Unchanged cycle",
            f"{unchanged['wall_s']:.2f} s wall, {unchanged['cpu_s']:.2f} s CPU; ",
            f"feeds: {_counts(unchanged['feeds'])}",
            mark(unchanged["wall_s"] < TARGETS["unchanged_s"]),
        ),
    ]
    if r.get("backfill"):
        back = r["backfill"]
        ratio = back["pages_per_s"] / first["pages_per_s"] if first["pages_per_s"] else 0.0
        lines.append(
            line(
                "Backfill, every stored article",
                f"{back['pages_per_s']:.1f} pages/s: {back['selected']:,} articles again ",
                f"in {back['wall_s']:.1f} s ",
                f"({_counts(back['statuses'])}; {_counts(back['changes'])}); / first cycle = {ratio:.2f}",
            )
        )
    lines += [
        line(
            "Peak memory (RSS, process tree)",
            f"first cycle {first['peak_rss_mb']:.0f} MB for ",
            f"{first['articles']:,} articles{peak_mark}; whole run {r['peak_rss_mb']:.0f} MB",
        ),
        line(
            "Extraction F1 (stored texts)",
            f"{f1['f1']:.3f} (precision {f1['precision']:.3f}, ",
            f"recall {f1['recall']:.3f}, {f1['pages']} pages); trafilatura alone {r['limit_f1']['f1']:.3f}",
            mark(f1["f1"] >= TARGETS["f1"]),
        ),
    ]
    bulk = r.get("bulk_load") or {}
    if bulk:
        rate = bulk["articles_upsert_rows_per_s"]
        lines += [
            line(
                "Loading articles (bulk)",
                f"{rate:,.0f} rows/s ({bulk['rows']:,} rows, articles upsert)",
                mark(rate >= TARGETS["rows_per_s"]),
            ),
            line(
                "  whole load",
                f"{bulk['load_cycle_rows_per_s']:,.0f} rows/s ",
                f"({bulk['load_cycle_rows']:,} rows); ",
                seconds(bulk.get("load_cycle_steps_s", {})),
            ),
        ]
    return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def write(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    m = results["meta"]
    stamp = m["when"].replace(":", "").replace("-", "")[:15]
    path = out / f"{stamp}-{m['commit']}-{m['mode'].replace(' ', '')}.json"
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.freshness or args.scale or args.publication:
        return other_mode(args)
    results = run(args)
    if os.environ.get("VIGIA_BENCH_DUMP"):
        print(json.dumps(results, indent=1, default=str)[:20000])
    results["meta"]["load_average_at_end"] = os.getloadavg()
    print(report(results))
    print(f"\nwritten to {write(results, args.out)}")
    return 0


def other_mode(args: argparse.Namespace) -> int:
    """The modes of issue 20: freshness, scale, publication. Each prints its figures and writes JSON."""
    args.hosts = args.hosts or 4
    if args.freshness:
        from benchmarks import freshness as mode
    elif args.scale:
        from benchmarks import scale as mode  # type: ignore[no-redef]
    else:
        from benchmarks import publication as mode  # type: ignore[no-redef]
    results = mode.run(args)
    results["meta"].update(
        mode=_mode(args),
        commit=_commit(),
        load_average_at_end=os.getloadavg(),
        cpus=os.cpu_count(),
        python=platform.python_version(),
    )
    print(mode.report(results))
    print(f"\nwritten to {write(results, args.out)}")
    return 0


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
