"""Every analysts' view, run on real DuckDB files with data in them.

Two sources of data: real cycles over the sample web on 127.0.0.1 (the sample holds a wire story
carried by two outlets), and ``Newsroom``, which loads constructed articles through the real
``load_cycle`` (stories, search index and all) with a classifier whose decisions the test chooses,
one cycle per simulated day, so spikes have a history to stand out from.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline import staging, store
from pipeline.collect.batch import Batch, Sighting
from pipeline.load.transaction import load_cycle
from pipeline.records import Article, Classification, Feed, FeedFetch, FeedState, Place
from tests import manual
from tests.conftest import REPO

VIEWS = sorted(p.stem for p in (REPO / "sql" / "views").glob("*.sql"))
DOCUMENTED_VIEWS = [
    "relevant_articles",
    "daily_topic_counts",
    "daily_department_counts",
    "source_health",
    "spikes",
]


# ---------------------------------------------------------------- constructed data


@dataclass(frozen=True)
class Item:
    """One constructed article and the decision the test classifier gives it."""

    outlet: str
    title: str
    text: str
    published: datetime | None
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # ubigeo codes
    relevant: bool = True
    slug: str | None = None
    language: str = "es"

    @property
    def url(self) -> str:
        slug = self.slug or hashlib.sha1(f"{self.title}|{self.text}".encode()).hexdigest()[:12]
        return f"https://www.{self.outlet}.pe/noticias/{slug}"


@dataclass
class ChosenClassifier:
    """The classifier interface load_cycle needs, deciding what the test says, by title."""

    version: str = "test-1"
    decisions: dict[str, Item] = field(default_factory=dict)

    def classify_many(self, items):
        out = []
        for title, _text, _language, *_url in items:  # (title, text, language, url)
            item = self.decisions.get(title)
            relevant = bool(item and item.relevant)
            out.append(
                Classification(
                    score=0.9 if relevant else 0.1,
                    is_relevant=relevant,
                    model_version=self.version,
                    topics=item.topics if item else (),
                    places=tuple(Place(u, u) for u in item.places) if item else (),
                    # The place of the event: the first place the test gives.
                    primary_department=item.places[0] if item and item.places else None,
                )
            )
        return out


class Newsroom:
    """Loads constructed articles into a database through the real load path."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.classifier = ChosenClassifier()
        self.feeds: dict[str, Feed] = {}

    def load(self, items: list[Item], now: datetime, outcomes: dict[str, FeedFetch] | None = None):
        for item in items:
            self.classifier.decisions[item.title] = item
            self.feeds.setdefault(item.outlet, Feed(item.outlet, f"https://www.{item.outlet}.pe/rss"))
        batch = Batch()
        for name, feed in self.feeds.items():
            fetch = (outcomes or {}).get(name) or FeedFetch(
                name,
                feed.url,
                now,
                "ok",
                200,
                items=sum(i.outlet == name for i in items),
                new_items=sum(i.outlet == name for i in items),
            )
            batch.fetches.append(fetch)
            failures = 0 if fetch.outcome in ("ok", "not_modified") else 1
            batch.states.append(
                FeedState(
                    name,
                    feed.url,
                    consecutive_failures=failures,
                    next_fetch_at=fetch.retry_after,
                    gone=fetch.outcome == "gone",
                )
            )
        for item in items:
            article = article_of(item, now)
            batch.articles.append(article)
            batch.sightings.append(Sighting(article.article_id, item.outlet, now))
        with store.open_db(self.db) as con:
            run_id = f"run-{now:%Y%m%dT%H%M%S%f}"
            return load_cycle(
                con, staging.batch_tables(batch), list(self.feeds.values()), run_id, self.classifier, now
            )

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def article_of(item: Item, now: datetime) -> Article:
    digest = hashlib.sha256(f"url\x1f{item.url}".encode()).hexdigest()[:20]
    content = hashlib.sha256(f"{item.title}\x1f{item.text}".encode()).hexdigest()[:20]
    return Article(
        article_id=digest,
        url=item.url,
        feed=item.outlet,
        guid=None,
        title=item.title,
        summary="",
        text=item.text,
        author=None,
        published_at=item.published,
        fetched_at=now,
        language=item.language,
        extraction_status="ok",
        extraction_error=None,
        entry_hash=content,
        content_hash=content,
    )


def prose(seed: int, words: int = 60) -> str:
    """Deterministic filler text that shares few 5-word runs with another seed's."""
    vocabulary = (  # noqa: SIM905
        "policía fiscalía banda distrito vecinos denuncia investigación operativo comisaría mercado "
        "avenida empresa dirigentes ministerio región provincia hospital testigos cámaras noche madrugada "
        "domingo lunes registro pruebas informe jefe agentes"
    ).split()
    h = hashlib.sha256(str(seed).encode()).digest()
    out = []
    for i in range(words):
        if i % 32 == 0:
            h = hashlib.sha256(h).digest()
        out.append(vocabulary[h[i % 32] % len(vocabulary)])
    return " ".join(out)


LIMA_OFFSET = timedelta(hours=-5)


def steady_lima_day(margin: timedelta = timedelta(minutes=5)) -> datetime:
    """Now (UTC), at least ``margin`` before Lima's next midnight, waiting past it if need be.

    The views count days by DuckDB's own clock: a test whose load and queries straddled midnight in
    Lima would compare its counts with the wrong day."""
    now = datetime.now(UTC)
    tomorrow = (now + LIMA_OFFSET).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, datetime.min.time(), UTC) - LIMA_OFFSET
    if midnight - now < margin:
        time.sleep((midnight - now).total_seconds() + 1)
        now = datetime.now(UTC)
    return now


def lima_noon(day_offset: int, now: datetime) -> datetime:
    """Noon in Lima, ``day_offset`` days from today (Lima), as a UTC instant."""
    today = (now + LIMA_OFFSET).date()
    return datetime.combine(today + timedelta(days=day_offset), datetime.min.time(), UTC) + timedelta(
        hours=17
    )


def daily_history(newsroom: Newsroom, days: int, per_day, now: datetime) -> None:
    """Articles dated each day from ``days`` days ago to today: per_day(offset, published) -> items.

    The oldest day is loaded on that day, so the database has been collecting since then (spikes
    need a history); the rest in one cycle today."""
    first = min(lima_noon(-days, now), now)
    newsroom.load(per_day(-days, first), first)
    newsroom.load(
        [i for offset in range(-days + 1, 1) for i in per_day(offset, min(lima_noon(offset, now), now))], now
    )


# ---------------------------------------------------------------- views on the sample web


@pytest.fixture
def sample_db(loaded_settings):
    return loaded_settings


def rows(settings, sql, params=None):
    with duckdb.connect(str(settings.analyst_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_every_view_answers_on_a_database_with_data(sample_db):
    assert set(DOCUMENTED_VIEWS) <= set(VIEWS)
    for view in VIEWS:
        if view == "spikes":
            continue  # the sample's two days are no history: see the spike tests below
        assert rows(sample_db, f"select count(*) from {view}")[0][0] > 0, view


def test_relevant_articles_carry_story_outlet_and_lima_day(sample_db):
    got = rows(
        sample_db, "select title, story_id, outlet, day, event_at, topics, departments from relevant_articles"
    )
    assert len(got) == 6
    by_title = {r[0]: r for r in got}
    andes = by_title["Gobierno prorroga por 30 días el estado de emergencia en Lima Metropolitana y Callao"]
    norte = by_title["Amplían estado de emergencia en Lima Metropolitana y Callao por 30 días más"]
    assert andes[1] == norte[1] and {andes[2], norte[2]} == {"agencia-andes", "noticias-norte"}
    assert "state_of_emergency" in andes[5] and {"07", "1501"} <= set(andes[6])
    for _title, _story, _outlet, day, event_at, *_ in got:
        assert day == (event_at.astimezone(UTC) + LIMA_OFFSET).date()


def test_a_wire_story_carried_by_two_outlets_counts_once(sample_db):
    (story,) = rows(
        sample_db, "select story_id, articles, outlets, outlet_names from stories where articles > 1"
    )
    assert story[1:] == (2, 2, ["agencia-andes", "noticias-norte"])
    # The two copies may fall on two Peru days (the sample's clock follows the real one): the story
    # counts on the first, once.
    counted = rows(
        sample_db,
        "select count(*) filter (where story_first), count(*) from trend_topics"
        " where story_id = ? and topic = 'state_of_emergency'",
        [story[0]],
    )
    assert counted == [(1, 2)]
    totals = rows(
        sample_db,
        "select sum(stories), sum(articles) from daily_topic_counts where topic = 'state_of_emergency'",
    )
    distinct = rows(
        sample_db,
        "select count(distinct story_id), count(*) from relevant_articles"
        " where list_contains(topics, 'state_of_emergency')",
    )
    assert totals == distinct and totals[0][0] == totals[0][1] - 1


def test_a_wire_story_run_by_three_outlets_is_one_story_in_the_daily_counts(tmp_path):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    wire = prose(42, 120)
    noon = lima_noon(-1, now)
    room.load(
        [
            Item(
                outlet,
                title,
                wire,
                noon + timedelta(minutes=20 * k),
                topics=("state_of_emergency",),
                places=("07", "1501"),
            )
            for k, (outlet, title) in enumerate(
                [
                    ("andina", "Gobierno prorroga estado de emergencia en Lima y Callao"),
                    ("norte", "Amplían emergencia en Lima Metropolitana y Callao por 30 días"),
                    ("sur", "Lima y Callao seguirán en estado de emergencia un mes más"),
                ]
            )
        ]
        + [
            Item(
                "sur",
                "Capturan a extorsionadores de transportistas en Callao",
                prose(7, 120),
                noon,
                topics=("extortion",),
                places=("07",),
            )
        ],
        now,
    )
    day = noon.date()
    assert room.query("select topic, stories, articles, outlets from daily_topic_counts order by topic") == [
        ("extortion", 1, 1, 1),
        ("state_of_emergency", 1, 3, 3),
    ]
    assert room.query(
        "select department, stories, articles, outlets from daily_department_counts"
        " where day = ? order by ubigeo",
        [day],
    ) == [("Callao", 2, 4, 3)]  # the wire story happened in Callao (its primary department), once


def test_source_health_lists_every_feed_with_recent_activity(sample_db):
    got = rows(
        sample_db,
        "select feed, status, consecutive_failures, new_items_7d, items_per_day, silent_hours"
        " from source_health order by feed",
    )
    assert [r[0] for r in got] == ["agencia-andes", "diario-sur", "lima-post", "noticias-norte"]
    assert all(r[1] == "ok" and r[2] == 0 and r[3] > 0 and r[5] < 1 for r in got)


# ---------------------------------------------------------------- constructed data


def test_the_current_decision_is_the_newest_model_versions(tmp_path):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [
            Item(
                "diario",
                "Capturan a banda de extorsionadores en Chiclayo",
                prose(1),
                now,
                topics=("extortion",),
                places=("14",),
            )
        ],
        now,
    )
    (article_id,) = room.query("select article_id from articles")[0]
    with store.open_db(room.db) as con:
        # A retrain recorded in `models` that says "not relevant", its row dated before the base
        # model's: the model's date decides, not the row's.
        con.execute("insert into models values ('v2', ?, null, null, null, null)", [now + timedelta(hours=1)])
        con.execute(
            "insert into classifications (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at) values (?, 'v2', 0.2, false, [], [], null, ?)",
            [article_id, now - timedelta(days=1)],
        )
    assert room.query("select model_version, is_relevant from current_classifications") == [("v2", False)]
    room.load([], now + timedelta(minutes=15))  # the next cycle brings the trend facts in step
    assert room.query("select count(*) from relevant_articles") == [(0,)]
    assert room.query("select count(*) from daily_topic_counts") == [(0,)]
    with store.open_db(room.db) as con:
        # A version missing from `models` is dated by its classified_at: newer than v2 here.
        con.execute(
            "insert into classifications (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at) values (?, 'v3', 0.8, true, ['homicide'], ['14'], null, ?)",
            [article_id, now + timedelta(hours=2)],
        )
    assert room.query("select model_version, is_relevant from current_classifications") == [("v3", True)]
    room.load([], now + timedelta(minutes=30))
    assert room.query("select model_version, topics from relevant_articles") == [("v3", ["homicide"])]
    assert room.query("select topic, stories from daily_topic_counts") == [("homicide", 1)]


def test_trend_facts_agree_with_the_live_rule_after_loads_and_reclassification(tmp_path):
    """relevant_articles reads facts kept by the loads; they must equal what the rule gives live."""
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    for day in range(-5, 1):
        room.load(_burst(day, 3, ["diario", "andes"]), lima_noon(day, now))
    with store.open_db(room.db) as con:
        # A reclassification (as `python -m pipeline reclassify` writes it) turns a third irrelevant.
        con.execute("insert into models values ('v2', ?, null, null, null, null)", [now])
        con.execute(
            "insert into classifications (article_id, model_version, score, is_relevant, topics, departments, primary_department, evidence, classified_at) select article_id, 'v2', 0.5, hash(article_id) % 3 <> 0,"
            " ['homicide'],"
            " ['13', '14'], case when hash(article_id) % 2 = 0 then '13' end, null, ? from articles",
            [now],
        )
    room.load(_burst(1, 2, ["sur"]), now + timedelta(minutes=1))
    live = room.query(
        """
        select c.article_id, s.story_id, c.model_version, c.topics
        from current_classifications c join article_stories s using (article_id)
        where c.is_relevant order by 1
        """
    )
    facts = room.query("select article_id, story_id, model_version, topics from relevant_articles order by 1")
    assert facts == live and len(live) > 5
    counted = room.query("select sum(stories) from daily_topic_counts")
    assert counted == room.query(
        "select count(*) from (select distinct story_id, unnest(topics) from relevant_articles)"
    )
    # A story counts in its topics, and in one department: the one where it happened.
    for view, key, source in (
        ("daily_topic_counts", "topic", "r.topics"),
        ("daily_department_counts", "ubigeo", "list_filter([s.primary_department], d -> d is not null)"),
    ):
        recount = room.query(
            f"select day, {key}, count(*), count(distinct outlet) from"
            f" (select r.day, r.outlet, unnest({source}) as {key}"
            "   from relevant_articles r join stories s using (story_id))"
            " group by all order by all"
        )
        assert room.query(f"select day, {key}, articles, outlets from {view} order by all") == recount
    assert room.query("select story_id, articles, outlets, day from stories order by 1") == room.query(
        "select story_id, count(*), count(distinct outlet), min(day) from relevant_articles"
        " group by 1 order by 1"
    )


def test_days_are_peru_days(tmp_path):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    late_evening = datetime.combine((now - timedelta(days=2)).date(), datetime.min.time(), UTC) + timedelta(
        hours=3
    )
    room.load(
        [
            Item(
                "diario",
                "Asesinan a cambista en el Cercado de Lima",
                prose(2),
                late_evening,
                topics=("homicide",),
                places=("1501",),
            )
        ],
        now,
    )
    # 03:00 UTC is 22:00 the evening before in Lima.
    assert room.query("select day from daily_topic_counts") == [(late_evening.date() - timedelta(days=1),)]


def test_an_article_without_a_date_counts_on_the_day_it_was_first_seen(tmp_path):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [
            Item(
                "diario",
                "Detienen a presunto sicario en Piura tras persecución",
                prose(3),
                None,
                topics=("homicide",),
                places=("20",),
            )
        ],
        now,
    )
    assert room.query("select day from daily_department_counts") == [((now + LIMA_OFFSET).date(),)]


def _burst(offset: int, count: int, outlets: list[str], published: datetime | None = None) -> list[Item]:
    """``count`` distinct extortion stories in Trujillo (La Libertad) on one day, outlets in turn."""
    return [
        Item(
            outlets[k % len(outlets)],
            f"Extorsionadores atacan negocio número {k} del día {offset} en Trujillo",
            prose(offset * 100 + k),
            published,
            topics=("extortion",),
            places=("13",),
        )
        for k in range(count)
    ]


@pytest.mark.parametrize(
    ("stories_today", "outlets", "spikes"),
    [
        (1, ["diario", "andes", "norte", "sur"], []),  # flat: today like every other day
        (8, ["diario"], []),  # a burst from one outlet is not enough
        (8, ["diario", "andes", "norte", "sur"], [("department", "13"), ("topic", "extortion")]),
    ],
    ids=["flat", "one-outlet", "spike"],
)
def test_spikes_stand_out_from_their_own_baseline(tmp_path, stories_today, outlets, spikes):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    daily_history(
        room, 30, lambda offset, at: _burst(offset, stories_today if offset == 0 else 1, outlets, at), now
    )
    today = (now + LIMA_OFFSET).date()
    got = room.query(
        "select day, dimension, key, stories, outlets, expected, robust_z from spikes order by 2, 3"
    )
    assert [(r[1], r[2]) for r in got] == spikes
    for day, _dim, _key, stories, n_outlets, expected, z in got:
        assert day == today and stories == 8 and n_outlets == 4 and expected == 1 and z >= 3.5
    # The flat days themselves never spike, and every day is counted.
    counts = room.query("select count(*), sum(stories) from daily_topic_counts where topic = 'extortion'")
    assert counts == [(31, 30 + stories_today)]


def test_a_weekly_rhythm_is_not_a_spike(tmp_path):
    """A topic busy every Monday is expected to be busy on Mondays (the same-weekday median)."""
    now = steady_lima_day()
    today = (now + LIMA_OFFSET).date()
    outlets = ["diario", "andes", "norte", "sur"]

    def per_day(offset: int, published: datetime) -> list[Item]:
        busy = (today + timedelta(days=offset)).weekday() == today.weekday()
        return _burst(offset, 6 if busy else 1, outlets, published)

    room = Newsroom(tmp_path / "v.duckdb")
    daily_history(room, 35, per_day, now)
    assert room.query("select stories from daily_topic_counts where day = ?", [today]) == [(6,)]
    assert room.query("select * from spikes where day = ?", [today]) == []


def test_source_health_shows_failing_deferred_gone_and_silent_feeds(tmp_path):
    now = steady_lima_day()
    room = Newsroom(tmp_path / "v.duckdb")
    names = ["okfeed", "failing", "deferred", "gone", "quiet"]
    room.load(
        [
            Item(n, f"Nota de {n} sobre seguridad ciudadana en el Callao", prose(i), now - timedelta(days=3))
            for i, n in enumerate(names)
        ],
        now - timedelta(days=3),
    )
    later = now
    outcomes = {
        "okfeed": FeedFetch("okfeed", "https://www.okfeed.pe/rss", later, "ok", 200, items=1, new_items=1),
        "failing": FeedFetch(
            "failing", "https://www.failing.pe/rss", later, "timeout", error="no answer in 30 s"
        ),
        "deferred": FeedFetch(
            "deferred",
            "https://www.deferred.pe/rss",
            later,
            "rate_limited",
            429,
            retry_after=later + timedelta(hours=1),
        ),
        "gone": FeedFetch("gone", "https://www.gone.pe/rss", later, "gone", 410),
        "quiet": FeedFetch("quiet", "https://www.quiet.pe/rss", later, "not_modified", 304),
    }
    room.load(
        [Item("okfeed", "Otra nota del día sobre patrullaje en Lima", prose(9), later)], later, outcomes
    )
    got = {
        r[0]: r[1:]
        for r in room.query(
            "select feed, status, consecutive_failures, last_outcome, last_error, deferred_until is not null,"
            " silent_hours, new_items_7d from source_health"
        )
    }
    assert got["okfeed"][:2] == ("ok", 0) and got["okfeed"][6] == 2
    assert got["failing"][:4] == ("failing", 1, "timeout", "no answer in 30 s")
    assert got["deferred"][0] == "deferred" and got["deferred"][4] is True
    assert got["gone"][0] == "gone"
    assert got["quiet"][0] == "silent" and got["quiet"][5] >= 72


def test_every_view_file_is_documented_for_analysts():
    """Each view file opens with a comment, and the analysts' guide shows each documented view."""
    guide = manual.text()
    for view in VIEWS:
        text = (REPO / "sql" / "views" / f"{view}.sql").read_text(encoding="utf-8")
        assert text.startswith(f"-- {view}:"), view
        assert not re.search(r"(?i)\bcreate\s+(or\s+replace\s+)?view\b", text), view
    for view in DOCUMENTED_VIEWS + ["stories", "current_classifications"]:
        assert f"`{view}`" in guide, view
