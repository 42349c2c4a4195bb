"""How fast the analysts' views answer on a database of one million articles.

    .venv/bin/python benchmarks/bench_views.py [--db data/bench/views.duckdb] [--articles 1000000]
                                               [--rebuild] [--rounds 5]

Builds (once; ``--rebuild`` to redo) a database through the real migrations, filled in bulk with
synthetic data: 60 feeds of 40 outlets over two years ending now, N articles (titles and ~120-word
texts drawn from a skewed vocabulary of security news words), two model versions' classifications
(30% relevant), stories (a fifth of the articles in 5-article stories), the search index built by
``pipeline.publish.search`` itself, the recent story index built by ``pipeline.load.stories``, and
four million fetches. Then times each documented view as an analyst would query it (the median and best of
``--rounds``), the search macro, and one load-side step: a cycle of 500 new articles assigned to
stories and indexed against the full database.

Target: every view under 200 ms on the project's 2-core machines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import store  # noqa: E402
from pipeline.load import search_index, stories, trends  # noqa: E402

DAYS = 730
FEEDS, OUTLETS = 60, 40
TOPICS = (  # noqa: SIM905
    "extortion homicide organized_crime prisons illegal_mining drug_trafficking state_of_emergency "
    "police_operations security_policy general"
).split()
UBIGEOS = "1501 07 13 20 14 04 08 02 11 12 25 16 22 06 15 21 23 24 01 03 05 09 10 17 18 19".split()  # noqa: SIM905
WORDS = (  # noqa: SIM905
    "policia extorsion extorsionadores sicario sicariato banda criminal transportistas paro asesinato "
    "homicidio robo asalto detenidos operativo fiscalia juez penal carcel reos motin mineria ilegal "
    "pataz trujillo lima callao piura chiclayo arequipa cusco puno tumbes huancayo iquitos pucallpa "
    "emergencia gobierno ministro interior congreso alcalde vecinos mototaxista bus empresa cupos "
    "amenazas disparos balacera victima herido hospital investigacion dirincri dirinex capturan "
    "desarticulan droga cocaina vraem narcotrafico lavado activos organizacion cabecilla tren aragua "
    "pulpos injertos estado prorroga dias distritos lluvias seleccion futbol dolar economia mercado "
    "precio cobre mina exportaciones turismo feriado visitantes cultura festival elecciones candidato "
    "partido votos encuesta the police gang extortion killed shot attack drivers strike prison riot "
    "mining illegal operation"
).split()


def build(path: Path, n: int, now: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(path.name + "*"):
        old.unlink()
    started = time.perf_counter()
    with store.open_db(path) as con:
        start = now - timedelta(days=DAYS)
        step_us = int(DAYS * 86400e6 / n)
        con.execute("set preserve_insertion_order = true")
        con.execute(
            "create temp table vocab as select ?::varchar[] as words, ?::varchar[] as stop",
            [WORDS, STOP_WORDS],
        )
        _feeds(con, now)
        timed("articles", lambda: _articles(con, n, start, step_us))
        timed("classifications", lambda: _classifications(con, start, n, step_us))
        timed("stories", lambda: _stories(con))
        timed(
            "trend facts (full rebuild by pipeline.load.trends.refresh_trends)",
            lambda: trends.refresh_trends(con, [], now),
        )
        timed("fetches", lambda: _fetches(con, start, now))
        timed(
            "search index (by pipeline.load.search_index.index_articles, 20,000 articles at a time)",
            lambda: _search_index(con, n, now),
        )
        timed("story index (last 14 days)", lambda: _story_index(con, now))
        con.execute("checkpoint")
    print(f"built {path} in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 1e9:.2f} GB")


def timed(what: str, fn) -> None:
    t = time.perf_counter()
    fn()
    print(f"  {what}: {time.perf_counter() - t:.1f} s", flush=True)


def _feeds(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    con.execute(
        """
        insert into feeds (name, url, configured_url, language, enabled, added_at, last_fetch_at,
                           last_outcome,
                           last_status_code, last_error, last_success_at, last_new_item_at,
                           consecutive_failures, next_fetch_at, gone_at)
        select 'outlet' || (i % ?) || '-s' || i, 'https://outlet' || (i % ?) || '.pe/rss/' || i,
               'https://outlet' || (i % ?) || '.pe/rss/' || i, 'es', i <> 59,
               ?::timestamptz - interval 730 days,
               ?::timestamptz - interval 5 minutes,
               case when i in (7, 8) then 'timeout' when i = 9 then 'gone' else 'ok' end,
               case when i in (7, 8) then null when i = 9 then 410 else 200 end,
               case when i in (7, 8) then 'no answer within 30 s' end,
               ?::timestamptz - case when i in (7, 8) then interval 3 hours else interval 5 minutes end,
               ?::timestamptz - case when i = 10 then interval 4 days else interval 20 minutes end,
               case when i in (7, 8) then 6 else 0 end,
               case when i = 8 then ?::timestamptz + interval 2 hours end,
               case when i = 9 then ?::timestamptz - interval 3 days end
        from range(?) t(i)
        """,
        [OUTLETS, OUTLETS, OUTLETS, now, now, now, now, now, now, FEEDS],
    )


# Words are drawn by Zipf's law over 50,000 ranks (rank r with probability ~ 1/r): ranks 1-20 are
# stop words, the project's news words sit at ranks 100-1,990 (each in about 1-10% of the texts, as
# "extorsión" is in real news), and every other rank is a filler word "w<rank>".
STOP_WORDS = ("de la que el en y a los se del las un por con no una su para es al").split()  # noqa: SIM905


def _words_sql(count: int, salt: str) -> str:
    rank = f"floor(pow(50000, (hash(i, j, '{salt}') % 100000) / 100000.0))::int"
    ranks = f"list_transform(range({count}), j -> {rank})"
    return (
        f"array_to_string(list_transform({ranks}, r -> case"
        " when r <= 20 then vocab.stop[r]"
        " when r >= 100 and (r - 100) % 10 = 0 and (r - 100) // 10 < len(vocab.words)"
        " then vocab.words[1 + (r - 100) // 10]"
        " else 'w' || r end), ' ')"
    )


def _articles(con: duckdb.DuckDBPyConnection, n: int, start: datetime, step_us: int) -> None:
    con.execute(
        f"""
        create temp table _ids as
        select i, left(md5(i::varchar), 20) as article_id,
               ?::timestamptz + to_microseconds(i * {step_us}) as seen
        from range({n}) t(i)
        """,
        [start],
    )
    con.execute(
        f"""
        insert into articles (article_id, url, feed, guid, title, summary, text, author, published_at,
                              fetched_at,
                              language, extraction_status, entry_hash, content_hash, revision, first_seen_at,
                              updated_at)
        select article_id,
               'https://outlet' || (i % {FEEDS} % {OUTLETS}) || '.pe/noticia/' || article_id,
               'outlet' || (i % {FEEDS} % {OUTLETS}) || '-s' || (i % {FEEDS}),
               null, {_words_sql(10, "t")}, '', {_words_sql(120, "w")}, null,
               case when hash(i, 'nopub') % 20 = 0 then null
                    else seen - to_minutes((hash(i, 'pub') % 180)::bigint) end,
               seen, 'es', 'ok', md5(article_id), md5(article_id), 1, seen, seen
        from _ids, vocab
        """
    )
    con.execute(
        f"""
        insert into article_sources
        select article_id, 'outlet' || (i % {FEEDS} % {OUTLETS}) || '-s' || (i % {FEEDS}), seen from _ids
        union all
        select article_id, 'outlet' || ((i + 1) % {FEEDS} % {OUTLETS}) || '-s' || ((i + 1) % {FEEDS}), seen
        from _ids where i % 10 = 0
        """
    )


def _classifications(con: duckdb.DuckDBPyConnection, start: datetime, n: int, step_us: int) -> None:
    # 'base-0' is the base model (absent from models); 'v2' is a retrain run at 70% of the period,
    # which reclassified the newer articles only.
    retrain = start + timedelta(microseconds=int(0.7 * n) * step_us)
    con.execute("insert into models values ('v2', ?, 'base-0', null, null, 'benchmark retrain')", [retrain])
    topics = "[" + ", ".join(f"'{t}'" for t in TOPICS) + "]"
    ubigeos = "[" + ", ".join(f"'{u}'" for u in UBIGEOS) + "]"
    for version, where, minutes in (("base-0", "true", 1), ("v2", f"i >= {int(0.7 * n)}", 2)):
        con.execute(
            f"""
            insert into classifications
                (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at)
            select article_id, '{version}', (hash(i, '{version}') % 1000) / 1000.0,
                   hash(i, '{version}') % 1000 < 300,
                   list_distinct([{topics}[1 + floor(pow(10, (hash(i, 't1') % 1000) / 1000.0))::int - 1],
                                  {topics}[1 + (hash(i, 't2') % 10)::int]]),
                   case when hash(i, 'd0') % 3 = 0 then []
                        else [{ubigeos}[floor(pow(26, (hash(i, 'd1') % 1000) / 1000.0))::int]]
                   end,
                   null, seen + interval {minutes} minute
            from _ids where {where}
            """
        )
    con.execute(
        "insert into labels select article_id, 'not_relevant', 'bench', seen, null"
        " from _ids where i % 997 = 0"
    )


def _stories(con: duckdb.DuckDBPyConnection) -> None:
    # A fifth of the articles come in 5-article stories carried by 5 outlets; the rest stand alone.
    con.execute(
        f"""
        insert into article_stories
        select a.article_id,
               case when (i // 5) % 4 = 0 then left(md5((i - i % 5)::varchar), 20) else a.article_id end,
               coalesce(a.published_at, a.first_seen_at),
               'outlet' || (i % {FEEDS} % {OUTLETS}) || '.pe',
               case when (i // 5) % 4 = 0 and i % 5 > 0 then 'text' else 'first' end,
               null, null, a.first_seen_at
        from _ids join articles a using (article_id)
        """
    )
    con.execute("delete from story_backlog")


def _fetches(con: duckdb.DuckDBPyConnection, start: datetime, now: datetime) -> None:
    per_feed = DAYS * 96
    con.execute(
        f"""
        insert into fetches
        select 'run-' || (i // {FEEDS}), 'outlet' || (i % {FEEDS} % {OUTLETS}) || '-s' || (i % {FEEDS}), 'https://x',
               ?::timestamptz + to_microseconds((i // {FEEDS}) * 900000000),
               case when hash(i) % 50 = 0 then 'timeout'
                    when hash(i) % 3 = 0 then 'not_modified' else 'ok' end,
               200, 20000, 300, null, 20, (hash(i, 'n') % 3)::int, 0, null, null
        from range({per_feed * FEEDS}) t(i)
        """,
        [start],
    )


def _search_index(con: duckdb.DuckDBPyConnection, n: int, now: datetime) -> None:
    con.execute("delete from search_backlog")
    chunk = 20_000
    for lo in range(0, n, chunk):
        ids = [
            r[0]
            for r in con.execute(
                "select article_id from _ids where i >= ? and i < ?", [lo, lo + chunk]
            ).fetchall()
        ]
        search_index.index_articles(con, ids, now)
    search_index.merge(con)


def _story_index(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    # Articles that have a story already are only (re)indexed: what the last 14 days of loads left.
    ids = [
        r[0]
        for r in con.execute(
            "select article_id from articles where first_seen_at >= ?::timestamptz - interval 14 days", [now]
        ).fetchall()
    ]
    stories.assign(con, ids, now)


QUERIES = {
    "relevant_articles (count)": "select count(*) from relevant_articles",
    "relevant_articles (24 h)": "select * from relevant_articles where event_at >= now() - interval 1 day",
    "daily_topic_counts (all)": "select * from daily_topic_counts",
    "daily_topic_counts (30 days)": "select * from daily_topic_counts where day >= current_date - 30",
    "daily_department_counts (all)": "select * from daily_department_counts",
    "source_health": "select * from source_health",
    "spikes (90 days)": "select * from spikes",
    "spikes (today)": "select * from spikes where day = timezone('America/Lima', now())::date",
    "stories (count)": "select count(*) from stories",
    "stories (last 7 days)": "select * from stories where day >= current_date - 7",
    "current_classifications (count; live, not a trend view)": "select count(*) from current_classifications",
    "search: extorsión transportistas": "select * from search('extorsión transportistas')",
    "search: sicario trujillo mototaxista": "select * from search('sicario trujillo mototaxista')",
    "search: policía (a frequent word)": "select * from search('policía')",
}


def bench(path: Path, rounds: int) -> list[tuple[str, float, float, int]]:
    con = duckdb.connect(str(path), read_only=True)
    results = []
    try:
        for name, sql in QUERIES.items():
            rows = len(con.execute(sql).fetchall())  # warm: the first read comes from disk
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                con.execute(sql).fetchall()
                times.append((time.perf_counter() - t) * 1000)
            results.append((name, statistics.median(times), min(times), rows))
            print(
                f"{name:40s} median {statistics.median(times):7.1f} ms  best {min(times):7.1f} ms"
                f"  rows {rows}",
                flush=True,
            )
    finally:
        con.close()
    return results


def bench_cycle(path: Path, now: datetime, count: int = 500) -> None:
    """One cycle's share of the derived work: `count` new articles (a fifth of them copies of
    recent ones) assigned to stories and indexed for search, against the full database."""
    scratch = path.with_name(path.stem + ".cycle.duckdb")
    scratch.unlink(missing_ok=True)
    import shutil

    shutil.copyfile(path, scratch)
    con = duckdb.connect(str(scratch))
    try:
        con.execute("begin transaction")
        con.execute(
            f"""
            insert into articles
            select left(md5('new' || i), 20), 'https://outlet' || (i % {OUTLETS}) || '.pe/nueva/' || i,
                   a.feed, null, case when i % 2 = 0 then a.title else 'nuevo titulo ' || i end, '', a.text,
                   null, ?::timestamptz - interval 10 minutes, ?, 'es', 'ok',
                   null, 1, md5(i::varchar), md5(i::varchar), 1, ?, ?
            from range({count}) t(i)
            join (select row_number() over () - 1 as k, * from articles
                  where first_seen_at >= ?::timestamptz - interval 2 days limit {count}) a on a.k = i
            """,
            [now, now, now, now, now],
        )
        con.execute(
            "insert into classifications"
            " (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at)"
            " select article_id, 'v2', 0.9, hash(article_id) % 3 = 0,"
            " ['extortion'],"
            " ['1501'], null, ? from articles where first_seen_at = ?",
            [now, now],
        )
        ids = [
            r[0]
            for r in con.execute("select article_id from articles where first_seen_at = ?", [now]).fetchall()
        ]
        steps = {}
        t = time.perf_counter()
        assigned = stories.assign(con, ids, now)
        steps["stories"] = time.perf_counter() - t
        t = time.perf_counter()
        trends.refresh_trends(con, assigned, now)
        steps["trend facts"] = time.perf_counter() - t
        t = time.perf_counter()
        search_index.index_articles(con, ids, now)
        steps["search index"] = time.perf_counter() - t
        joined = con.execute(
            "select count(*) from article_stories where assigned_at = ? and matched_by <> 'first'", [now]
        ).fetchone()[0]
        con.execute("rollback")
        print(
            f"cycle of {len(ids)} new articles ({joined} joined an existing story): "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in steps.items())
        )
    finally:
        con.close()
        scratch.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=REPO / "data" / "bench" / "views.duckdb")
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC)
    if args.rebuild or not args.db.exists():
        build(args.db, args.articles, now)
    else:
        print(f"using {args.db} (built earlier; --rebuild to rebuild it)")
    bench(args.db, args.rounds)
    bench_cycle(args.db, datetime.now(UTC))
    return 0


if __name__ == "__main__":
    sys.exit(main())
