"""Publication of the analyst copy as the archive grows, up to a million articles.

    .venv/bin/python -m benchmarks.run --publication [--articles 1000000] [--db data/bench/]
    make bench MODE=publication

After every load, with the writer lock held, ``pipeline.store.publication.publish`` patches the
spare (or copies the whole database), checks what it wrote (or verifies the whole copy),
snapshots it (a hard link) and renames it over the analyst copy. This mode builds databases of a tenth, three
tenths and all of ``--articles`` synthetic articles with ``benchmarks/bench_views.py``'s builder
(the real migrations, two years of articles, classifications, stories, trend facts, fetches and
the search index; kept under ``--db`` and reused, as ``bench_views`` does), then for each:

1. publishes it once as a whole copy (no spare, the whole check): what every publication cost
   before the spare;
2. then, ``snapshots + 1 + 3`` times, makes one small load (500 new articles with their
   classifications, stories, trend facts and search index, 200 fetches and feed-state updates;
   committed and checkpointed, as a cycle's load) and publishes, timing each step (the copy or
   the patch of the spare, the block checksums, the tables read back or counted, the rest:
   snapshot link, fsync, rename, pruning) and counting the blocks written. The first rounds copy
   whole until a snapshot is pruned into the spare; the last one makes the periodic whole check.

The file is in the page cache (just built or read): these are the costs of a warm machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.corpus import REPO

MB = 1024 * 1024
ROUNDS = 3


def run(args: Any) -> dict[str, Any]:
    directory = args.db or REPO / "data" / "bench"
    sizes = sorted({max(1000, args.articles // 10), max(1000, args.articles * 3 // 10), args.articles})
    results: dict[str, Any] = {
        "meta": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "articles": sizes,
            "load_average_at_start": os.getloadavg(),
        },
        "sizes": [],
    }
    for n in sizes:
        results["sizes"].append(measure(directory / f"publication-{n}.duckdb", n))
    return results


def measure(path: Path, n: int) -> dict[str, Any]:
    from benchmarks import bench_views
    from pipeline.settings import Settings
    from pipeline.store import publication

    built_s = None
    if not path.exists():
        started = time.perf_counter()
        bench_views.build(path, n, datetime.now(UTC))
        built_s = time.perf_counter() - started
    analyst = path.with_name(path.stem + ".analyst.duckdb")
    settings = Settings.from_env(env={}, db_path=path, analyst_db_path=analyst)
    # A whole copy first (no spare, no recent whole check): what every publication cost before.
    publication.spare_path(settings).unlink(missing_ok=True)
    publication.verified_marker(settings).unlink(missing_ok=True)
    whole = publish_timed(settings)
    # Then a small load before each publication, as the scheduler's runs do; the first ones copy
    # whole until a snapshot is pruned into the spare, the later ones patch it.
    rounds = []
    for i in range(settings.snapshots + 1 + ROUNDS):
        if i == settings.snapshots + ROUNDS:
            # The last one with the whole check (every block and table read back), as once an hour.
            os.utime(publication.verified_marker(settings), (0, 0))
        load = small_load(path, datetime.now(UTC) - timedelta(seconds=1))
        rounds.append({**publish_timed(settings), **load})
    patched = [r for r in rounds if r["patched"] and not r["whole_check"]]
    checked = [r for r in rounds if r["patched"] and r["whole_check"]]
    size = path.stat().st_size
    median = {key: statistics.median(r[key] for r in patched) for key in STEPS} if patched else None
    return {
        "articles": n,
        "file_mb": size / MB,
        "built_s": built_s,
        "whole": whole,
        "rounds": rounds,
        "median": median,
        "patched_with_whole_check": checked[-1] if checked else None,
        "copy_mb_per_s": size / MB / whole["copy_s"] if whole["copy_s"] else None,
    }


STEPS = ("wall_s", "cpu_s", "copy_s", "patch_s", "block_checksums_s", "tables_read_s", "rest_s")


def publish_timed(settings: Any) -> dict[str, Any]:
    """One publication as a load makes it, each step timed."""
    from benchmarks.measure import timed
    from pipeline.store import publication

    steps: dict[str, float] = {}
    copy_s = [0.0]
    original_copy = shutil.copyfile

    def copy(src, dst, *, follow_symlinks=True, _copy=original_copy, _spent=copy_s):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return _copy(src, dst, follow_symlinks=follow_symlinks)
        finally:
            _spent[0] += time.perf_counter() - started

    targets = [
        (publication, "_patch"),
        (publication, "verify"),
        (publication, "scan_blocks"),
        (publication, "check_blocks"),
        (publication, "check_opens"),
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    publication.shutil.copyfile = copy  # type: ignore[attr-defined]
    try:
        with timed(targets, steps):
            publication.publish(settings)
    finally:
        publication.shutil.copyfile = original_copy  # type: ignore[attr-defined]
    total = time.perf_counter() - wall
    (done,) = publication.LAST
    checksums = steps.get("scan_blocks", 0.0) + steps.get("check_blocks", 0.0)
    tables = steps.get("verify", 0.0) - steps.get("scan_blocks", 0.0) + steps.get("check_opens", 0.0)
    spent = copy_s[0] + steps.get("_patch", 0.0) + checksums + tables
    return {
        "patched": done.patched,
        "blocks_written": done.blocks_written,
        "whole_check": done.whole_check,
        "file_blocks": publication.check_header(settings.db_path)[1],
        "wall_s": total,
        "cpu_s": time.process_time() - cpu,
        "copy_s": copy_s[0],
        "patch_s": steps.get("_patch", 0.0),
        "block_checksums_s": checksums,
        "tables_read_s": tables,
        "rest_s": total - spent,
    }


def small_load(path: Path, now: datetime, count: int = 500, feeds: int = 200) -> dict[str, float]:
    """A cycle's load on ``path`` in one transaction, then a checkpoint: ``count`` new articles (half
    of them copies of recent ones) classified, assigned to stories, trend facts and search index
    updated; ``feeds`` fetches logged and feed states updated."""
    import duckdb

    from pipeline.load import search_index, stories, trends

    con = duckdb.connect(str(path))
    steps = {}
    try:
        started = time.perf_counter()
        con.execute("begin transaction")
        con.execute(
            f"""
            insert into articles
            select left(md5('load' || ?::varchar || i), 20),
                   'https://outlet' || (i % 40) || '.pe/nueva/' || md5(?::varchar || i),
                   a.feed, null, case when i % 2 = 0 then a.title else 'nuevo titulo ' || i end, '', a.text,
                   null, ?::timestamptz - interval 10 minutes, ?, 'es', 'ok',
                   null, 1, md5(i::varchar), md5(i::varchar), 1, ?, ?
            from range({count}) t(i)
            join (select row_number() over () - 1 as k, * from articles
                  where first_seen_at >= ?::timestamptz - interval 2 days limit {count}) a on a.k = i
            """,
            [now, now, now, now, now, now, now],
        )
        con.execute(
            "insert into classifications"
            " (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at)"
            " select article_id, 'v2', 0.9, hash(article_id) % 3 = 0, ['extortion'], ['1501'], null, ?"
            " from articles where first_seen_at = ?",
            [now, now],
        )
        ids = [
            r[0]
            for r in con.execute("select article_id from articles where first_seen_at = ?", [now]).fetchall()
        ]
        assigned = stories.assign(con, ids, now)
        trends.refresh_trends(con, assigned, now)
        search_index.index_articles(con, ids, now)
        run_id = f"bench-{now:%Y%m%dT%H%M%S%f}"
        con.execute(
            f"""
            insert into fetches
            select ?, name, url, ?, 'not_modified', 304, 0, 40, null, 0, 0, 0, null, null
            from feeds limit {feeds}
            """,
            [run_id, now],
        )
        con.execute(
            f"update feeds set last_fetch_at = ?, last_outcome = 'not_modified', last_success_at = ?"
            f" where name in (select name from feeds order by name limit {feeds})",
            [now, now],
        )
        con.execute("commit")
        steps["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        con.execute("checkpoint")
        steps["checkpoint_s"] = time.perf_counter() - started
    finally:
        con.close()
    return steps


def report(r: dict[str, Any]) -> str:
    m = r["meta"]
    lines = [
        f"Vigía publication {m['when']}: the analyst copy published as a load does; load average "
        f"{m['load_average_at_start'][0]:.1f} at start",
        "",
        f"{'articles':>10} {'file MB':>8} {'whole copy s':>13} {'patched s':>10} {'CPU s':>6} "
        f"{'patch s':>8} {'checks s':>9} {'blocks written':>20} {'+ whole check s':>16} {'small load s':>13}",
    ]
    for s in r["sizes"]:
        md, w, wc = s["median"], s["whole"], s["patched_with_whole_check"]
        if md is None:
            lines.append(
                f"{s['articles']:>10,} {s['file_mb']:>8.0f} {w['wall_s']:>13.2f}   (no patched round)"
            )
            continue
        patched = [x for x in s["rounds"] if x["patched"] and not x["whole_check"]]
        written = statistics.median(x["blocks_written"] for x in patched)
        blocks = statistics.median(x["file_blocks"] for x in patched)
        load = statistics.median(x["load_s"] + x["checkpoint_s"] for x in patched)
        lines.append(
            f"{s['articles']:>10,} {s['file_mb']:>8.0f} {w['wall_s']:>13.2f} {md['wall_s']:>10.2f} "
            f"{md['cpu_s']:>6.2f} {md['patch_s']:>8.2f} "
            f"{md['block_checksums_s'] + md['tables_read_s']:>9.2f} "
            f"{f'{written:.0f}/{blocks:.0f} ({written / blocks:.0%})':>20} "
            f"{wc['wall_s'] if wc else float('nan'):>16.2f} {load:>13.2f}"
        )
    big, small = r["sizes"][-1], r["sizes"][0]
    if big["median"] and small["median"]:
        grows_whole = big["whole"]["wall_s"] / small["whole"]["wall_s"]
        grows_patched = big["median"]["wall_s"] / small["median"]["wall_s"]
        share = big["median"]["wall_s"] / big["whole"]["wall_s"]
        lines += [
            "",
            f"From {small['articles']:,} to {big['articles']:,} articles the file grows "
            f"{big['file_mb'] / small['file_mb']:.1f}x; a whole copy {grows_whole:.1f}x, "
            f"a patched publication {grows_patched:.1f}x. At the largest a patched one is {share:.2f}"
            " of a whole copy (the median of the rounds after a small load, inside the writer lock).",
        ]
    return "\n".join(lines)
