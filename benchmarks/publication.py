"""Publication of the analyst copy as the archive grows, up to a million articles.

    .venv/bin/python -m benchmarks.run --publication [--articles 1000000] [--db data/bench/]
    make bench MODE=publication

After every load, with the writer lock held, ``pipeline.publication.publish`` copies the whole
database, verifies the copy (every block's checksum, then every table read back), snapshots it
(a hard link) and renames it over the analyst copy. This mode builds databases of a tenth, three
tenths and all of ``--articles`` synthetic articles with ``benchmarks/bench_views.py``'s builder
(the real migrations, two years of articles, classifications, stories, trend facts, fetches and
the search index; kept under ``--db`` and reused, as ``bench_views`` does), then for each:

1. publishes it three times as a load does, timing each step: the copy, the block checksums, the
   tables read back, the rest (snapshot link, fsync, rename, pruning);
2. makes one small load (500 new articles with their classifications, stories, trend facts and
   search index, 200 fetches and feed-state updates; committed and checkpointed, as a cycle's
   load) and counts the blocks of the file that differ from the last published copy: what a
   publication proportional to the load's changes would have to write.

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
    from benchmarks.measure import timed
    from pipeline.settings import Settings
    from pipeline.store import publication

    built_s = None
    if not path.exists():
        started = time.perf_counter()
        bench_views.build(path, n, datetime.now(UTC))
        built_s = time.perf_counter() - started
    analyst = path.with_name(path.stem + ".analyst.duckdb")
    settings = Settings.from_env(env={}, db_path=path, analyst_db_path=analyst)
    rounds = []
    for _ in range(ROUNDS):
        steps: dict[str, float] = {}
        copy_s = [0.0]
        original_copy = shutil.copyfile

        def copy(src, dst, *, follow_symlinks=True, _copy=original_copy, _spent=copy_s):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return _copy(src, dst, follow_symlinks=follow_symlinks)
            finally:
                _spent[0] += time.perf_counter() - started

        cpu, wall = time.process_time(), time.perf_counter()
        publication.shutil.copyfile = copy  # type: ignore[attr-defined]
        try:
            with timed([(publication, "scan_blocks"), (publication, "verify")], steps):
                publication.publish(settings)
        finally:
            publication.shutil.copyfile = original_copy  # type: ignore[attr-defined]
        total = time.perf_counter() - wall
        rounds.append(
            {
                "wall_s": total,
                "cpu_s": time.process_time() - cpu,
                "copy_s": copy_s[0],
                "block_checksums_s": steps.get("scan_blocks", 0.0),
                "tables_read_s": steps.get("verify", 0.0) - steps.get("scan_blocks", 0.0),
                "rest_s": total - copy_s[0] - steps.get("verify", 0.0),
            }
        )
    size = path.stat().st_size
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    return {
        "articles": n,
        "file_mb": size / MB,
        "built_s": built_s,
        "rounds": rounds,
        "median": median,
        "copy_mb_per_s": size / MB / median["copy_s"] if median["copy_s"] else None,
        "changed_by_a_small_load": changed_blocks(path, analyst),
    }


def small_load(path: Path, now: datetime, count: int = 500, feeds: int = 200) -> dict[str, float]:
    """A cycle's load on ``path`` in one transaction, then a checkpoint: ``count`` new articles (half
    of them copies of recent ones) classified, assigned to stories, trend facts and search index
    updated; ``feeds`` fetches logged and feed states updated."""
    import duckdb

    from pipeline.load import stories
    from pipeline.publish import search

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
        stories.refresh_trends(con, assigned, now)
        search.index_articles(con, ids, now)
        run_id = f"bench-{now:%Y%m%dT%H%M%S%f}"
        con.execute(
            f"""
            insert into fetches
            select ?, name, url, ?, 'not_modified', 304, 0, 40, null, 0, 0 from feeds limit {feeds}
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


def changed_blocks(path: Path, published: Path) -> dict[str, Any]:
    """Make a small load on ``path``, then count its blocks that differ from ``published`` (the copy
    published before the load): their checksums (each block's first 8 bytes) or, failing that,
    their bytes. Publishes again afterwards, so the next measurement starts from a fresh copy."""
    import numpy as np

    from pipeline.settings import Settings
    from pipeline.store import publication

    before_size = path.stat().st_size
    steps = small_load(path, datetime.now(UTC) - timedelta(seconds=1))
    block_size, blocks_after = publication.check_header(path)
    _, blocks_before = publication.check_header(published)
    changed = 0
    with open(path, "rb") as new, open(published, "rb") as old:
        new.seek(publication.DATA_START)
        old.seek(publication.DATA_START)
        per = 64
        compared = 0
        while compared < blocks_after:
            a = new.read(block_size * per)
            b = old.read(block_size * per)
            if not a:
                break
            count = len(a) // block_size
            va = np.frombuffer(a[: count * block_size], dtype="<u8").reshape(count, -1)[:, 0]
            vb_raw = b[: count * block_size].ljust(count * block_size, b"\0")
            vb = np.frombuffer(vb_raw, dtype="<u8").reshape(count, -1)[:, 0]
            differ = va != vb
            # Same checksum, different bytes is possible in principle: compare those blocks' bytes.
            for i in np.nonzero(~differ)[0]:
                start = int(i) * block_size
                if a[start : start + block_size] != vb_raw[start : start + block_size]:
                    differ[i] = True
            changed += int(differ[: max(0, min(count, blocks_after - compared))].sum())
            compared += count
    publication.publish(Settings.from_env(env={}, db_path=path, analyst_db_path=published))
    return {
        **steps,
        "block_size": block_size,
        "blocks_before": blocks_before,
        "blocks_after": blocks_after,
        "blocks_changed": changed,
        "changed_mb": changed * block_size / MB,
        "changed_share": changed / blocks_after if blocks_after else None,
        "file_mb_before": before_size / MB,
        "file_mb_after": path.stat().st_size / MB,
    }


def report(r: dict[str, Any]) -> str:
    m = r["meta"]
    lines = [
        f"Vigía publication {m['when']}: the analyst copy published as a load does (copy, verify, snapshot, "
        f"rename); load average {m['load_average_at_start'][0]:.1f} at start",
        "",
        f"{'articles':>10} {'file MB':>8} {'publish s':>10} {'copy s':>7} {'checksums s':>12} "
        f"{'tables s':>9} "
        f"{'rest s':>7} {'CPU s':>6} {'small load s':>13} {'blocks changed':>22}",
    ]
    for s in r["sizes"]:
        md, ch = s["median"], s["changed_by_a_small_load"]
        changed = f"{ch['blocks_changed']}/{ch['blocks_after']} ({ch['changed_share']:.1%})"
        lines.append(
            f"{s['articles']:>10,} {s['file_mb']:>8.0f} {md['wall_s']:>10.2f} {md['copy_s']:>7.2f} "
            f"{md['block_checksums_s']:>12.2f} {md['tables_read_s']:>9.2f} {md['rest_s']:>7.2f} "
            f"{md['cpu_s']:>6.2f} {ch['load_s'] + ch['checkpoint_s']:>13.2f} {changed:>22}"
        )
    big = r["sizes"][-1]
    small = r["sizes"][0]
    if big["median"]["wall_s"] and small["median"]["wall_s"]:
        lines += [
            "",
            f"From {small['articles']:,} to {big['articles']:,} articles the file grows "
            f"{big['file_mb'] / small['file_mb']:.1f}x and a publication "
            f"{big['median']['wall_s'] / small['median']['wall_s']:.1f}x "
            f"({big['median']['wall_s'] / big['file_mb'] * 1024:.2f} s a GB at the largest); all of it "
            "inside the writer lock.",
        ]
    return "\n".join(lines)
