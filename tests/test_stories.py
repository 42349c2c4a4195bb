"""Stories: one story_id for the articles that report one incident, across outlets and cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline import store
from pipeline.load import near_duplicates
from pipeline.settings import REPO_ROOT
from pipeline.urls import outlet_of
from tests.test_views import Item, Newsroom, prose

WIRE = (
    "El Gobierno prorrogó por treinta días el estado de emergencia en Lima Metropolitana y el Callao, "
    "según un decreto supremo publicado este lunes en el diario oficial. La medida suspende derechos "
    "constitucionales relativos a la libertad de tránsito y la inviolabilidad de domicilio, y permite que "
    "las Fuerzas Armadas apoyen a la Policía Nacional en el control del orden interno en los distritos "
    "con mayor incidencia de extorsión y sicariato, informó el Ministerio del Interior."
)


# ---------------------------------------------------------------- keys


def test_words_fold_case_accents_and_punctuation():
    assert near_duplicates.words("¡Extorsión en SJL: 3 heridos!") == [
        "extorsion",
        "en",
        "sjl",
        "3",
        "heridos",
    ]
    assert (
        near_duplicates.title_key("Prorrogan  EMERGENCIA en Lima y Callao")
        == "prorrogan emergencia en lima y callao"
    )
    assert near_duplicates.title_key("Tipo de cambio hoy") is None  # too short to identify a story


def test_minhash_estimates_how_much_two_texts_share():
    a = near_duplicates.minhash(near_duplicates.words(WIRE))
    edited = near_duplicates.minhash(
        near_duplicates.words("LIMA (Andina). " + WIRE.replace("este lunes", "ayer") + " Más detalles.")
    )
    other = near_duplicates.minhash(near_duplicates.words(prose(1, 80)))
    assert a is not None and near_duplicates.similarity(a, a) == 1.0
    assert near_duplicates.similarity(a, edited) >= 0.6
    assert near_duplicates.similarity(a, other) < 0.1
    assert near_duplicates.minhash(near_duplicates.words("muy corto")) is None
    # Signatures must be comparable across processes: they are stored.
    assert a[:4].tolist() == near_duplicates.minhash(near_duplicates.words(WIRE))[:4].tolist()


@pytest.mark.parametrize(
    ("url", "feed_url", "feed", "outlet"),
    [
        (
            "https://elcomercio.pe/lima/policiales/x-noticia/",
            "https://elcomercio.pe/rss/lima",
            "elcomercio-lima",
            "elcomercio.pe",
        ),
        ("https://www.infobae.com/peru/2025/10/20/x/", None, "infobae-peru", "infobae.com"),
        ("https://andina.com.pe/agencia/noticia-x.aspx", None, "andina", "andina.com.pe"),
        ("https://www.gob.pe/institucion/mininter/noticias/1", None, "mininter", "gob.pe"),
        (None, "https://rpp.pe/rss", "rpp", "rpp.pe"),
        (
            "http://127.0.0.1:8080/diario-sur/x.html",
            "http://127.0.0.1:8080/diario-sur/feed.xml",
            "diario-sur",
            "diario-sur",
        ),
    ],
)
def test_the_outlet_is_the_site_not_the_feed(url, feed_url, feed, outlet):
    assert outlet_of(url, feed_url, feed) == outlet


# ---------------------------------------------------------------- assignment through loads


def story_rows(room: Newsroom) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in room.query(
            "select a.title, s.story_id, s.matched_by, s.similarity, s.outlet, s.article_id"
            " from article_stories s join articles a using (article_id)"
        )
    }


def test_wire_copies_with_other_titles_join_the_first_copys_story(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [
            Item("andina", "Gobierno prorroga estado de emergencia", WIRE, now - timedelta(hours=3)),
            Item(
                "norte",
                "Lima y Callao, un mes más en emergencia",
                "LIMA (Andina). " + WIRE,
                now - timedelta(hours=2),
            ),
            Item(
                "sur", "Capturan a red de extorsionadores en Arequipa", prose(5, 80), now - timedelta(hours=1)
            ),
        ],
        now,
    )
    got = story_rows(room)
    first = got["Gobierno prorroga estado de emergencia"]
    copy = got["Lima y Callao, un mes más en emergencia"]
    other = got["Capturan a red de extorsionadores en Arequipa"]
    assert first[:2] == (first[4], "first") and first[1] == "first"
    assert copy[0] == first[4] and copy[1] == "text" and copy[2] >= 0.8
    assert other[0] == other[4] and other[1] == "first"
    assert {r[3] for r in got.values()} == {"andina.pe", "norte.pe", "sur.pe"}


def test_the_same_title_joins_even_when_the_texts_differ(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [
            Item(
                "andina",
                "Capturan a alias «El Loco» en Trujillo tras balacera",
                prose(1, 80),
                now - timedelta(hours=5),
            )
        ],
        now - timedelta(hours=4),
    )
    room.load(
        [
            Item(
                "rpp",
                "CAPTURAN a alias El Loco en TRUJILLO, tras balacera",
                prose(2, 80),
                now - timedelta(hours=1),
            )
        ],
        now,
    )
    (first, second) = sorted(story_rows(room).values(), key=lambda r: r[1] != "first")
    assert second[0] == first[0] == first[4] and second[1] == "title"


def test_nothing_joins_across_more_than_72_hours(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [Item("andina", "Gobierno prorroga estado de emergencia", WIRE, now - timedelta(days=4))],
        now - timedelta(days=4),
    )
    room.load(
        [Item("norte", "Gobierno prorroga estado de emergencia", WIRE + " Segunda prórroga.", now)], now
    )
    assert room.query("select matched_by, count(distinct story_id) from article_stories group by 1") == [
        ("first", 2)
    ]


def test_a_recurring_title_does_not_chain_articles_past_72_hours_from_the_first(tmp_path):
    """Single-linkage would glue a daily column into one story; the story's start bounds it."""
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    for day in (8, 6, 4, 2, 0):  # every 48 h: each within 72 h of the previous one
        when = now - timedelta(days=day)
        room.load(
            [Item("diario", "Resumen policial: lo más importante de la jornada", prose(day), when)], when
        )
    got = room.query(
        "select matched_by, count(*), count(distinct story_id) from article_stories group by 1 order by 1"
    )
    assert got == [("first", 3, 3), ("title", 2, 2)]  # days 8+6, 4+2, 0


def test_a_later_copy_joins_the_existing_story_and_ids_never_change(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    room.load(
        [Item("andina", "Gobierno prorroga estado de emergencia", WIRE, now - timedelta(hours=6))],
        now - timedelta(hours=5),
    )
    before = story_rows(room)
    room.load(
        [
            Item("norte", "Amplían la emergencia en Lima y Callao", WIRE, now - timedelta(hours=1)),
            Item("sur", "Emergencia en Lima y Callao: lo que debes saber", WIRE + " Fin.", now),
        ],
        now,
    )
    after = story_rows(room)
    assert before.items() <= after.items()
    (story_id,) = {r[0] for r in after.values()}
    assert story_id == before["Gobierno prorroga estado de emergencia"][4]


def test_loading_the_same_cycle_twice_changes_nothing(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    items = [
        Item(
            "andina",
            "Gobierno prorroga estado de emergencia",
            WIRE,
            now,
            topics=("state_of_emergency",),
            places=("07",),
        ),
        Item(
            "norte",
            "Lima y Callao, un mes más en emergencia",
            WIRE,
            now,
            topics=("state_of_emergency",),
            places=("07",),
        ),
    ]
    tables = [
        "article_stories",
        "story_index",
        "story_bands",
        "trend_articles",
        "trend_topics",
        "trend_departments",
        "search_terms",
        "search_docs",
        "search_postings",
        "search_postings_recent",
    ]

    def snapshot():
        return {t: sorted(map(repr, room.query(f"select * from {t}"))) for t in tables}

    room.load(items, now)
    first = snapshot()
    room.load(items, now + timedelta(seconds=1))
    again = snapshot()
    assert again["story_index"] == first["story_index"] and again == first


def test_assignment_does_not_depend_on_the_order_rows_arrive_in(tmp_path):
    now = datetime.now(UTC)
    items = [
        Item(f"o{k}", f"Titular distinto número {k} sobre la emergencia", WIRE, now - timedelta(minutes=k))
        for k in range(6)
    ]
    results = []
    for name, batch in (("forward", items), ("backward", items[::-1])):
        room = Newsroom(tmp_path / f"{name}.duckdb")
        room.load(batch, now)
        results.append(room.query("select article_id, story_id, matched_by from article_stories order by 1"))
    assert results[0] == results[1]
    assert len({r[1] for r in results[0]}) == 1  # the earliest copy, o5, starts the story
    assert {r[2] for r in results[0]} == {"first", "text"}


def test_an_updated_article_keeps_its_story_and_its_old_text_as_a_revision(tmp_path):
    now = datetime.now(UTC)
    room = Newsroom(tmp_path / "v.duckdb")
    original = Item(
        "andina", "Gobierno prorroga estado de emergencia", WIRE, now - timedelta(hours=2), slug="prorroga"
    )
    room.load(
        [original, Item("norte", "Lima y Callao, un mes más en emergencia", WIRE, now - timedelta(hours=1))],
        now - timedelta(minutes=30),
    )
    before = story_rows(room)
    corrected = Item(
        "andina",
        "Gobierno prorroga estado de emergencia (actualizado)",
        WIRE + " Actualizado.",
        now - timedelta(hours=2),
        slug="prorroga",
    )
    summary = room.load([corrected], now)
    assert summary.updated_articles == 1
    after = story_rows(room)
    assert (
        after["Gobierno prorroga estado de emergencia (actualizado)"][:2]
        == before["Gobierno prorroga estado de emergencia"][:2]
    )
    assert room.query("select title from article_revisions") == [("Gobierno prorroga estado de emergencia",)]
    assert room.query("select count(*) from story_index") == [(2,)]


def test_articles_stored_before_the_stories_migration_get_stories_at_the_next_load(tmp_path):
    db = tmp_path / "old.duckdb"
    old_sql = tmp_path / "sql"
    (old_sql / "migrations").mkdir(parents=True)
    (old_sql / "views").mkdir()
    for name in ("001_core.sql", "002_classifier.sql"):
        (old_sql / "migrations" / name).write_text(
            (REPO_ROOT / "sql" / "migrations" / name).read_text("utf-8")
        )
    now = datetime.now(UTC)
    # Both articles at and an hour before noon of yesterday in Lima (UTC-5): one Peru day whatever
    # the hour the test runs (now - 1 day - 1 h crossed Lima's midnight between 05:00 and 06:00 UTC).
    lima_yesterday = (now - timedelta(hours=5)).date() - timedelta(days=1)
    noon = datetime(lima_yesterday.year, lima_yesterday.month, lima_yesterday.day, 17, tzinfo=UTC)
    with duckdb.connect(str(db)) as con:
        store.migrate(con, old_sql)
        con.execute(
            "insert into feeds (name, url, configured_url) values ('andina', 'https://andina.pe/rss',"
            " 'https://andina.pe/rss'), ('norte', 'https://norte.pe/rss', 'https://norte.pe/rss')"
        )
        for k, (feed, title) in enumerate(
            [
                ("andina", "Gobierno prorroga estado de emergencia"),
                ("norte", "Un mes más de emergencia en Lima y Callao"),
            ]
        ):
            con.execute(
                "insert into articles (article_id, url, feed, title, text, published_at, fetched_at,"
                " extraction_status, entry_hash, content_hash, first_seen_at, updated_at)"
                " values (?, ?, ?, ?, ?, ?, ?, 'ok', 'e', 'c', ?, ?)",
                [
                    f"old{k}",
                    f"https://{feed}.pe/{k}",
                    feed,
                    title,
                    WIRE,
                    noon - timedelta(hours=k),
                    now,
                    now,
                    now,
                ],
            )
            con.execute(
                "insert into classifications (article_id, model_version, score, is_relevant, topics, departments, evidence, classified_at) values (?, 'base', 0.9, true, ['state_of_emergency'],"
                " ['07'], null, ?)",
                [f"old{k}", now],
            )
    room = Newsroom(db)
    room.load([], now + timedelta(minutes=1))  # the first load after upgrading
    assert room.query("select count(*) from story_backlog") == [(0,)]
    assert room.query("select article_id, story_id, matched_by from article_stories order by 1") == [
        ("old0", "old1", "text"),
        ("old1", "old1", "first"),
    ]
    assert room.query("select stories, articles from daily_topic_counts") == [(1, 2)]
    assert room.query("select count(*) from search('emergencia')") == [(2,)]


def test_the_sample_webs_wire_story_is_found_by_its_text(loaded_settings):
    with duckdb.connect(str(loaded_settings.analyst_db), read_only=True) as con:
        got = con.execute(
            "select a.feed, s.matched_by, s.similarity"
            " from article_stories s join articles a using (article_id)"
            " where s.story_id in (select story_id from article_stories group by 1 having count(*) > 1)"
            " order by a.feed"
        ).fetchall()
        alone = con.execute("select count(*) from article_stories where matched_by = 'first'").fetchone()[0]
    assert [(f, m) for f, m, _ in got] == [("agencia-andes", "first"), ("noticias-norte", "text")]
    assert got[1][2] >= 0.8 and alone == 11
