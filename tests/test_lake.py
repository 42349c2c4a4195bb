"""The lake (VIGIA_STORE=ducklake) on a real PostgreSQL catalog started on 127.0.0.1 for the session.

PostgreSQL comes from Debian's ``postgresql`` package (scripts/ci_postgres.sh installs it); without
its server binaries these tests are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline import staging, store
from pipeline import tasks as ingest
from pipeline.collect.batch import Batch, Sighting
from pipeline.errors import DatabaseBusy, StoreError
from pipeline.load.transaction import load_cycle
from pipeline.records import Article, Feed, FeedFetch, FeedState
from pipeline.settings import Settings
from pipeline.store import lake, lake_sql
from tests.conftest import REPO, make_settings
from tests.localweb import SAMPLE_SITE, LocalWeb, sample_feeds_toml, sample_site

FEEDS = ["diario-sur", "agencia-andes", "noticias-norte", "lima-post", "radio-centro", "el-callao"]
FEEDS_TOML = "".join(f'[[feed]]\nname = "{f}"\nurl = "http://127.0.0.1:9/{f}.xml"\n\n' for f in FEEDS)


# ---------------------------------------------------------------- a PostgreSQL server for the session


@dataclass(frozen=True)
class Postgres:
    bin: Path
    port: int

    def dsn(self, dbname: str) -> str:
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user=vigia"

    def createdb(self) -> str:
        name = f"lake_{uuid.uuid4().hex[:12]}"
        subprocess.run(
            [self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "vigia", name],
            check=True,
            capture_output=True,
        )
        return name


def _server_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    pg_bin = _server_bin()
    if pg_bin is None:
        pytest.skip(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/ci_postgres.sh)"
        )
    # initdb refuses to run as root: then the server runs as Debian's postgres user, in a
    # directory it owns (pytest's own tmp dirs are private to root).
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="vigia-pg-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(root, "postgres", "postgres")
        except LookupError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    initdb = [
        *as_user,
        pg_bin / "initdb",
        "-D",
        data,
        "-U",
        "vigia",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]
    subprocess.run(initdb, check=True, capture_output=True)
    ctl = [*as_user, pg_bin / "pg_ctl", "-D", data, "-w", "-t", "60"]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    started = subprocess.run(
        [*ctl, "-l", root / "log", "-o", options, "start"], capture_output=True, text=True
    )
    if started.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stdout}{started.stderr}{log}")
    try:
        yield Postgres(pg_bin, port)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def lake_settings(tmp_path: Path, pg: Postgres, **overrides) -> Settings:
    values = dict(
        store="ducklake",
        lake_catalog="postgres:" + pg.dsn(pg.createdb()),
        lake_data_path=str(tmp_path / "lake") + "/",
        db_lock_timeout=60.0,
    )
    return make_settings(tmp_path, FEEDS_TOML, **{**values, **overrides})


def lake_env(settings: Settings) -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=str(REPO),
        VIGIA_FEEDS=str(settings.feeds_path),
        VIGIA_DB=str(settings.db_path),
        VIGIA_STORE="ducklake",
        VIGIA_LAKE_CATALOG=settings.lake_catalog,
        VIGIA_LAKE_DATA_PATH=settings.lake_data_path,
        VIGIA_DB_LOCK_TIMEOUT=str(settings.db_lock_timeout),
    )


# ---------------------------------------------------------------- cycles' worth of articles

_SITE = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
_STORIES = [(o["language"], a) for o in _SITE["outlets"] for a in o["articles"]]
T0 = datetime(2025, 10, 20, 15, 0, tzinfo=UTC)


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def article(n: int, seen_at: datetime, edition: int = 0) -> Article:
    """Article ``n``: the text of one of the sample site's articles, made unique by its number;
    a later ``edition`` is the outlet's correction of it."""
    language, story = _STORIES[n % len(_STORIES)]
    title = f"{story['title']} ({n})"
    text = (
        "\n\n".join(story["paragraphs"])
        + f"\n\nNota {n}."
        + (f" Actualización {edition}." if edition else "")
    )
    return Article(
        article_id=f"t{n:06d}",
        url=f"https://noticias.example.pe/{n}",
        feed=FEEDS[n % len(FEEDS)],
        guid=None,
        title=title,
        summary=story["summary"],
        text=text,
        author=story.get("author"),
        published_at=seen_at - timedelta(hours=n % 24),
        fetched_at=seen_at,
        language=language,
        extraction_status="ok",
        extraction_error=None,
        entry_hash=_hash(n, edition, "entry"),
        content_hash=_hash(title, text),
    )


def batch(numbers: range | list[int], seen_at: datetime, edition: int = 0) -> Batch:
    """What one cycle (or one worker's share of it) collects: every feed fetched, these articles."""
    chosen = [article(n, seen_at, edition) for n in numbers]
    return Batch(
        fetches=[
            FeedFetch(
                feed=f,
                url=f"http://127.0.0.1:9/{f}.xml",
                started_at=seen_at,
                outcome="ok",
                status_code=200,
                bytes=1000,
                items=sum(a.feed == f for a in chosen),
                new_items=sum(a.feed == f for a in chosen),
                etag=f'"{seen_at:%s}"',
            )
            for f in FEEDS
        ],
        states=[
            FeedState(
                name=f, url=f"http://127.0.0.1:9/{f}.xml", etag=f'"{seen_at:%s}"', last_full_fetch_at=seen_at
            )
            for f in FEEDS
        ],
        articles=chosen,
        sightings=[Sighting(a.article_id, a.feed, seen_at) for a in chosen]
        # every fourth article is carried by a second feed too
        + [
            Sighting(a.article_id, FEEDS[(n + 1) % len(FEEDS)], seen_at)
            for n, a in zip(numbers, chosen, strict=True)
            if n % 4 == 0
        ],
    )


# ---------------------------------------------------------------- migrations


def _columns(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select table_name, column_name, data_type from duckdb_columns() where database_name = ?"
        " and table_name in (select table_name from duckdb_tables() where database_name = ?)"
        " order by table_name, column_index",
        [database, database],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, []).append((column, data_type))
    return out


def test_the_lake_has_the_embedded_tables_columns_and_types_and_an_up_to_date_lake_is_not_written(
    tmp_path, postgres
):
    settings = lake_settings(tmp_path, postgres)
    with store.open_db(settings) as con:
        lake_columns = _columns(con, lake.ALIAS)
        versions = con.execute("select version from schema_migrations order by 1").fetchall()
        departments = con.execute("select count(*), count(distinct ubigeo) from departments").fetchone()
        (snapshot,) = con.execute("select max(snapshot_id) from lake.snapshots()").fetchone()
    with store.open_db(tmp_path / "embedded.duckdb") as con:
        embedded_columns = _columns(con, "embedded")
        assert con.execute("select version from schema_migrations order by 1").fetchall() == versions
        assert (
            con.execute("select count(*), count(distinct ubigeo) from departments").fetchone() == departments
        )
        embedded_views = {
            r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()
        }
    assert lake_columns == embedded_columns
    with store.open_db(settings) as con:  # a second open migrates nothing and writes no snapshot
        assert lake.migrate(con, settings.sql_dir) == []
        assert con.execute("select max(snapshot_id) from lake.snapshots()").fetchone()[0] == snapshot
        lake_views = {
            r[0]
            for r in con.execute(
                "select view_name from duckdb_views() where database_name = 'lake' and not internal"
            ).fetchall()
        }
    assert lake_views == embedded_views


def test_constraints_are_dropped_and_conflicts_become_anti_joins(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "views").mkdir()
    (tmp_path / "migrations" / "001_x.sql").write_text(
        """
        -- a comment that says primary key and on conflict
        create table parent (id varchar primary key, kind varchar not null check (kind in ('a', 'b')));
        create table child (
            parent_id varchar references parent (id),
            n integer default 0 not null,
            tags varchar[],
            note varchar default 'on conflict do nothing',
            unique (parent_id, n)
        );
        create index child_n on child (n);
        insert into parent values ('p1', 'a'), ('p2', 'b') on conflict do nothing;
        insert or ignore into child (parent_id, n) select id, 1 from parent;
        """,
        encoding="utf-8",
    )
    (tmp_path / "migrations" / "002_y.sql").write_text(
        "alter table child add column seen_at timestamptz;\n"
        "create unique index child_seen on child (seen_at);\n"
        "update parent set kind = 'b' where id = 'p1';\n",
        encoding="utf-8",
    )
    migrations, _, _ = lake_sql.translate(tmp_path)
    statements = [s for _, group in migrations for s in group]
    text = lake_sql._mask("\n".join(statements)).lower()  # string literals blanked
    for absent in ("primary key", "unique", "check", "references", "index", "on conflict", "or ignore"):
        assert absent not in text
    con = duckdb.connect()  # the translation runs; its inserts run again and add nothing
    for statement in statements:
        con.execute(statement)
    for statement in statements:
        if statement.startswith("insert"):
            con.execute(statement)
    assert con.execute("select * from parent order by id").fetchall() == [("p1", "b"), ("p2", "b")]
    assert con.execute("select parent_id, n, note, seen_at from child order by 1").fetchall() == [
        ("p1", 1, "on conflict do nothing", None),
        ("p2", 1, "on conflict do nothing", None),
    ]
    nullable = dict(
        con.execute(
            "select column_name, is_nullable from duckdb_columns() where table_name = 'child'"
        ).fetchall()
    )
    assert nullable == {"parent_id": True, "n": False, "tags": True, "note": True, "seen_at": True}


def test_an_upsert_a_migration_cannot_express_on_the_lake_is_refused_with_the_migration_named(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_x.sql").write_text(
        "create table t (k varchar primary key, v integer);\n"
        "insert into t values ('a', 1) on conflict do update set v = excluded.v;\n",
        encoding="utf-8",
    )
    with pytest.raises(StoreError, match="001_x.sql.*MERGE INTO"):
        lake_sql.translate(tmp_path)


def test_reading_a_lake_that_does_not_exist_is_a_clear_error(tmp_path, postgres):
    settings = lake_settings(tmp_path, postgres)
    with pytest.raises(StoreError, match="does not exist yet"), store.open_db(settings, read_only=True):
        pass


# ---------------------------------------------------------------- many writers

WRITER = """
import json, sys, time
from pathlib import Path
from pipeline import staging
from pipeline import tasks as ingest
from pipeline.settings import Settings

settings = Settings.from_env()
tables = staging.read_batches([Path(sys.argv[1])])
from pipeline.classify.versions import base_model
base_model(settings.cache_dir)  # read (or built) before the start: the race below is the loads' alone
for attempt in range(int(sys.argv[4])):
    go = Path(f"{sys.argv[3]}-{attempt}")
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    started = time.monotonic()
    summary = ingest.load(settings, tables, f"{sys.argv[2]}-{attempt}")
    print(json.dumps({"new": summary.new_articles, "updated": summary.updated_articles,
                      "seconds": time.monotonic() - started}), flush=True)
"""


@contextlib.contextmanager
def writers(
    settings: Settings, staged: list[Path], tmp_path: Path, attempts: int
) -> Iterator[Callable[[], list[dict]]]:
    """One process per staged batch; each call of what this yields has them all load their batch at
    the same instant (a new run each time, as Airflow's retries are) and returns their summaries."""
    go = tmp_path / f"go-{uuid.uuid4().hex}"
    errors = [tmp_path / f"{go.name}-writer-{i}.err" for i in range(len(staged))]
    with contextlib.ExitStack() as files:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), f"writer-{i}-{go.name}", str(go), str(attempts)],
                env=lake_env(settings),
                stdout=subprocess.PIPE,
                stderr=files.enter_context(err.open("w")),
                text=True,
            )
            for i, (path, err) in enumerate(zip(staged, errors, strict=True))
        ]
        attempt = 0

        def load_at_once() -> list[dict]:
            nonlocal attempt
            for proc, err in zip(procs, errors, strict=True):  # each has imported everything, read its batch
                assert proc.stdout.readline().strip() == "ready", err.read_text()
            Path(f"{go}-{attempt}").touch()
            attempt += 1
            results = []
            for proc, err in zip(procs, errors, strict=True):
                line = proc.stdout.readline()
                while line and not line.startswith("{"):  # what the load prints before its summary
                    line = proc.stdout.readline()
                assert line, err.read_text()
                results.append(json.loads(line))
            return results

        try:
            yield load_at_once
            for proc, err in zip(procs, errors, strict=True):
                assert proc.wait(timeout=240) == 0, err.read_text()
        finally:
            for proc in procs:
                proc.kill()
                proc.wait(timeout=30)
                proc.stdout.close()


def stage(tmp_path: Path, name: str, b: Batch) -> Path:
    return staging.write_batch(b, tmp_path / "staged" / name)


def test_four_writers_loading_at_once_lose_nothing_and_duplicate_nothing(tmp_path, postgres):
    settings = lake_settings(tmp_path, postgres)
    with store.open_db(settings):  # created and migrated once, as `python -m pipeline init` does
        pass
    # Four workers' batches: 30 articles every worker saw, 60 of each worker's own, and 20 more it
    # shares with the next worker.
    shares = [list(range(30)) + list(range(100 + 60 * k, 180 + 60 * k)) for k in range(4)]
    staged = [
        stage(tmp_path, f"w{k}", batch(numbers, T0 + timedelta(minutes=k)))
        for k, numbers in enumerate(shares)
    ]
    expected = set().union(*map(set, shares))
    sightings = {
        (s.article_id, s.feed) for k, numbers in enumerate(shares) for s in batch(numbers, T0).sightings
    }

    with writers(settings, staged, tmp_path, attempts=2) as load_at_once:
        results = load_at_once()

        assert sum(r["new"] for r in results) == len(expected)  # each article was new to exactly one writer
        assert sum(r["updated"] for r in results) == 0
        with store.open_db(settings, read_only=True) as con:

            def one(sql: str) -> tuple:
                return con.execute(sql).fetchone()

            assert one("select count(*), count(distinct article_id) from articles") == (
                len(expected),
                len(expected),
            )
            assert {r[0] for r in con.execute("select article_id from articles").fetchall()} == {
                f"t{n:06d}" for n in expected
            }
            assert one("select count(*), count(distinct (article_id, feed)) from article_sources") == (
                len(sightings),
                len(sightings),
            )
            assert one(
                "select count(*), count(distinct (article_id, model_version)) from classifications"
            ) == (
                len(expected),
                len(expected),
            )
            assert one("select count(*), count(distinct article_id) from article_stories") == (
                len(expected),
                len(expected),
            )
            assert one("select count(*), count(distinct article_id) from search_docs") == (
                len(expected),
                len(expected),
            )
            assert (
                one("select count(*), count(distinct (run_id, feed)) from fetches") == (4 * len(FEEDS),) * 2
            )
            assert one("select count(*), count(distinct run_id) from runs") == (4, 4)
            assert one("select count(*), count(distinct name) from feeds") == (len(FEEDS), len(FEEDS))
            assert one("select count(*) from article_revisions") == (0,)
            # every feed's state is the one of the last writer to commit
            assert one("select count(distinct etag) from feeds") == (1,)

        # A second round of the same batches (Airflow retrying every load) changes nothing.
        again = load_at_once()
        assert sum(r["new"] + r["updated"] for r in again) == 0
        with store.open_db(settings, read_only=True) as con:
            assert con.execute("select count(*) from articles").fetchone() == (len(expected),)
            assert con.execute("select count(*) from classifications").fetchone() == (len(expected),)


HOLDER = """
import sys, time
from pipeline import store
from pipeline.settings import Settings
with store.write_lock(Settings.from_env()):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_writer_waits_for_the_lock_and_a_killed_holder_releases_it_at_once(tmp_path, postgres):
    settings = lake_settings(tmp_path, postgres, db_lock_timeout=0.5)
    with store.open_db(settings):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=lake_env(settings), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        # PostgreSQL's lock_timeout ran out: the writer waited its 0.5 s in the queue, then gave up.
        with (
            pytest.raises(DatabaseBusy, match="another writer held the lake for 0.5 s"),
            store.open_db(settings),
        ):
            pass
        with store.open_db(settings, read_only=True) as con:  # readers never wait for writers
            assert con.execute("select count(*) from feeds").fetchone() == (0,)
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs; PostgreSQL ends the session and its lock
        holder.wait(timeout=10)
        holder.stdout.close()
    with store.open_db(settings, lock_timeout=10) as con:  # DatabaseBusy were the lock not released
        con.execute("select 1")


CRASH = """
import sys, time
from pathlib import Path
from pipeline import staging
from pipeline import tasks as ingest
from pipeline.load import transaction as load
from pipeline.settings import Settings
real = load.classify_articles
def classify_then_hang(*args, **kwargs):
    n = real(*args, **kwargs)
    print("inside the transaction", flush=True)
    time.sleep(600)
    return n
load.classify_articles = classify_then_hang
ingest.load(Settings.from_env(), staging.read_batches([Path(sys.argv[1])]), "crashing-run")
"""


def test_a_writer_killed_mid_load_leaves_nothing_half_loaded_and_the_next_load_completes(tmp_path, postgres):
    settings = lake_settings(tmp_path, postgres, db_lock_timeout=20.0)
    ingest.load(settings, staging.batch_tables(batch(range(0, 20), T0)), "run-1")
    staged = stage(tmp_path, "second", batch(range(10, 40), T0 + timedelta(minutes=15)))
    loader = subprocess.Popen(
        [sys.executable, "-c", CRASH, str(staged)], env=lake_env(settings), stdout=subprocess.PIPE, text=True
    )
    try:
        assert loader.stdout.readline().strip() == "inside the transaction"
    finally:
        loader.kill()
        loader.wait(timeout=30)
        loader.stdout.close()
    with store.open_db(settings, read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone() == (20,)
        assert con.execute("select count(*) from classifications").fetchone() == (20,)
        assert con.execute("select count(*) from runs").fetchone() == (1,)
    # The dead writer's lock went with its session (else DatabaseBusy after db_lock_timeout).
    summary = ingest.load(settings, staging.read_batches([staged]), "run-2")
    assert summary.new_articles == 20
    with store.open_db(settings, read_only=True) as con:
        assert con.execute("select count(*), count(distinct article_id) from articles").fetchone() == (40, 40)
        assert con.execute("select count(*) from classifications").fetchone() == (40,)


# ---------------------------------------------------------------- analysts' views


def _view_rows(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple]:
    def norm(value: object) -> object:
        if isinstance(value, float):
            return None if math.isnan(value) else round(value, 9)
        if isinstance(value, list):
            return tuple(norm(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, norm(v)) for k, v in value.items()))
        return value

    rows = [tuple(norm(v) for v in row) for row in con.execute(f"select * from {view}").fetchall()]
    return sorted(rows, key=lambda row: repr([None if isinstance(v, timedelta) else v for v in row]))


def _same_answer(lake_rows: list[tuple], embedded_rows: list[tuple]) -> bool:
    """Equal, except that an interval measured from now() (a feed silent for ...) may differ by the
    moments between the two queries."""
    if len(lake_rows) != len(embedded_rows):
        return False
    for a, b in zip(lake_rows, embedded_rows, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, timedelta) and isinstance(y, timedelta):
                if abs(x - y) > timedelta(minutes=1):
                    return False
            elif x != y:
                return False
    return True


def test_the_views_answer_the_same_on_the_lake_as_on_the_embedded_file(tmp_path, postgres):
    lake_side = lake_settings(tmp_path, postgres)
    embedded = Settings.from_env(
        env={}, feeds_path=lake_side.feeds_path, db_path=tmp_path / "embedded.duckdb"
    )
    feeds = [Feed(name=f, url=f"http://127.0.0.1:9/{f}.xml") for f in FEEDS]
    now = datetime.now(UTC).replace(microsecond=0)
    cycles = [  # three cycles: new articles, then corrections and more articles, then a repeat
        ("run-1", batch(range(0, 40), now - timedelta(days=2)), now - timedelta(days=2)),
        ("run-2", batch(list(range(30, 60)), now - timedelta(days=1), edition=1), now - timedelta(days=1)),
        ("run-3", batch(range(50, 60), now, edition=1), now),
    ]
    for settings in (embedded, lake_side):
        for run_id, b, at in cycles:
            with store.open_db(settings) as con:
                classifier = ingest.current_classifier(con)
                load_cycle(con, staging.batch_tables(b), feeds, run_id, classifier, at)

    views = sorted(p.stem for p in (REPO / "sql" / "views").glob("*.sql"))
    with store.open_db(embedded, read_only=True) as emb, store.open_db(lake_side, read_only=True) as lk:
        assert emb.execute("select count(*) from article_revisions").fetchone()[0] > 0
        for table in ("articles", "classifications", "article_stories", "article_sources"):
            assert _view_rows(lk, table) == _view_rows(emb, table), table
        answered = 0
        for view in views:
            expected = _view_rows(emb, view)
            assert _same_answer(_view_rows(lk, view), expected), view
            answered += bool(expected)
    assert answered >= len(views) // 2  # the data gives most views something to say


def test_a_cycle_runs_on_the_lake_analysts_read_it_locked_and_a_second_cycle_stops_at_once(
    tmp_path, postgres
):
    settings = lake_settings(tmp_path, postgres)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            env={**lake_env(settings), "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32", "VIGIA_WORKERS": "2"},
            capture_output=True,
            text=True,
            timeout=300,
        )

    with LocalWeb() as web:
        web.routes.update(sample_site(web.base))
        settings.feeds_path.write_text(sample_feeds_toml(web.base), encoding="utf-8")
        # The cycle holds the lake's writer lock from plan to load, re-entrantly.
        cycle = cli("run")
        assert cycle.returncode == 0, cycle.stderr
        assert "articles 12 new" in cycle.stdout
        with store.cycle_lock(settings):  # this process runs "a cycle" on the lake
            second = cli("run")
        assert second.returncode == 3
        assert second.stderr.strip().splitlines() == [
            "database error: another cycle is running on the lake: this one stops before downloading anything"
        ]

    read = cli("sql", "-c", "select count(*) as n from articles")
    assert read.returncode == 0 and "12" in read.stdout, read.stderr
    escape = cli("sql", "-c", f"copy (select 1) to '{tmp_path}/out.csv'")
    assert escape.returncode == 1 and "Permission Error" in escape.stdout
    assert not (tmp_path / "out.csv").exists()
    assert cli("restore").returncode == 2  # the lake keeps its own history
