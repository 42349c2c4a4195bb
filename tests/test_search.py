"""Full-text search: accent- and case-insensitive, ranked by BM25, from SQL and from the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline import search, store
from pipeline.cli import main
from tests.test_views import Item, Newsroom, prose

NOW = datetime.now(UTC)
ARTICLES = [
    Item(
        "andina",
        "Transportistas denuncian extorsión en San Juan de Lurigancho",
        "Los transportistas de la ruta que une SJL con el Cercado denunciaron cobros de cupos. " + prose(1),
        NOW,
    ),
    Item(
        "rpp",
        "Paro de transportistas en Lima Norte",
        "Gremios de transporte anunciaron un paro por los ataques de extorsionadores. " + prose(2),
        NOW,
    ),
    Item(
        "correo",
        "EXTORSION: capturan a banda que cobraba cupos a comerciantes",
        "La policía capturó a la banda. " + prose(3),
        NOW,
    ),
    Item(
        "sur",
        "Selección peruana anuncia convocados",
        "El técnico dio la lista para la doble fecha. " + prose(4),
        NOW,
    ),
]


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    newsroom = Newsroom(tmp_path_factory.mktemp("search") / "vigia.duckdb")
    newsroom.load(ARTICLES, NOW)
    return newsroom


def titles(room: Newsroom, query: str, limit: int = 20) -> list[str]:
    return [r[0] for r in room.query("select title from search(?, max_results := ?)", [query, limit])]


def test_accents_and_case_do_not_matter(room):
    expected = {ARTICLES[0].title, ARTICLES[2].title}
    assert set(titles(room, "extorsión")) == expected
    assert set(titles(room, "EXTORSION")) == expected
    assert set(titles(room, "Extorsion")) == expected


def test_plurals_fold_to_the_singular(room):
    assert set(titles(room, "transportista")) == {ARTICLES[0].title, ARTICLES[1].title}
    assert set(titles(room, "cupo")) == {ARTICLES[0].title, ARTICLES[2].title}


def test_articles_matching_more_and_rarer_words_rank_first(room):
    got = room.query("select rank, title, terms_matched, score from search('extorsión transportistas')")
    assert got[0][1] == ARTICLES[0].title and got[0][2] == 2
    assert [r[0] for r in got] == list(range(1, len(got) + 1))
    assert all(a[3] >= b[3] for a, b in zip(got, got[1:], strict=False))
    assert ARTICLES[3].title not in [r[1] for r in got]


def test_a_word_in_the_title_counts_more_than_in_the_text(room):
    # "paro" is in the title of one article and the text of another.
    assert titles(room, "paro")[0] == ARTICLES[1].title


def test_queries_of_stop_words_or_nothing_find_nothing(room):
    assert titles(room, "de la en") == []
    assert titles(room, "") == []
    assert titles(room, "zzzzzz") == []


def test_results_carry_story_feed_url_and_time(room):
    (hit,) = search.search(duckdb.connect(str(room.db), read_only=True), "selección convocados", limit=1)
    assert hit["feed"] == "sur" and hit["url"].startswith("https://www.sur.pe/")
    assert hit["story_id"] == hit["article_id"] and abs(hit["event_at"] - NOW) < timedelta(seconds=1)


def test_an_updated_article_is_found_by_its_new_words_only(tmp_path):
    news = Newsroom(tmp_path / "v.duckdb")
    first = Item(
        "andina",
        "Balacera en Comas deja dos heridos",
        "Vecinos reportaron disparos. " + prose(7),
        NOW,
        slug="comas",
    )
    news.load([first], NOW)
    news.load(
        [
            Item(
                "andina",
                "Balacera en Comas deja tres heridos y un detenido",
                "Sicarios huyeron. " + prose(7),
                NOW,
                slug="comas",
            )
        ],
        NOW + timedelta(minutes=15),
    )
    assert [r[0] for r in news.query("select title from search('detenido')")] == [
        "Balacera en Comas deja tres heridos y un detenido"
    ]
    assert news.query("select count(*) from search('reportaron')") == [(0,)]
    assert news.query("select count(*) from search('balacera')") == [(1,)]


def test_moving_postings_to_the_sorted_table_changes_no_result(room, tmp_path):
    before = room.query("select article_id, score from search('extorsión cupos transportistas')")
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(room.db.read_bytes())
    with store.open_db(copy) as con:
        assert search.merge(con)
        assert con.execute("select count(*) from search_postings_recent").fetchone() == (0,)
        after = con.execute(
            "select article_id, score from search('extorsión cupos transportistas')"
        ).fetchall()
    assert after == before and len(before) == 3


def test_cli_search_prints_the_best_matches_from_the_analyst_copy(room, capsys):
    room.db.with_name("vigia.analyst.duckdb").write_bytes(room.db.read_bytes())
    assert main(["search", "extorsión transportistas", "--db", str(room.db), "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("  1.") and "Transportistas denuncian extorsión" in out[1]
    assert len([line for line in out if line.lstrip()[:2] in ("1.", "2.")]) == 2
    assert main(["search", "qwertyuiop", "--db", str(room.db)]) == 0
    assert "no article matches" in capsys.readouterr().out


def test_cli_search_without_an_analyst_copy_is_a_clear_error(tmp_path, capsys):
    assert main(["search", "x", "--db", str(tmp_path / "none.duckdb")]) == 3
    assert "no analyst copy" in capsys.readouterr().err
