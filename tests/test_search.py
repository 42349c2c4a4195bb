"""Full-text search: phrases, AND/OR/NOT, prefixes, Snowball stems, filters; ranked by BM25; from SQL
(also in the official DuckDB shell) and from the CLI, against texts known to hold (or not) the words."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline import store
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.load import search_index
from pipeline.publish import search
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
    expected = {ARTICLES[0].title, ARTICLES[1].title, ARTICLES[2].title}  # [1] says extorsionadores
    assert set(titles(room, "extorsión")) == expected
    assert set(titles(room, "EXTORSION")) == expected
    assert set(titles(room, "Extorsion")) == expected


def test_words_find_their_family(room):
    assert set(titles(room, "transportista")) == {ARTICLES[0].title, ARTICLES[1].title}
    assert set(titles(room, "cupo")) == {ARTICLES[0].title, ARTICLES[2].title}
    # extorsionadores (in [1]) and extorsión (in [0], [2]) share the Snowball stem extorsion.
    assert set(titles(room, "extorsionadores")) == {ARTICLES[0].title, ARTICLES[1].title, ARTICLES[2].title}


def test_every_word_is_required_and_more_and_rarer_words_rank_first(room):
    got = room.query("select rank, title, terms_matched, score from search('extorsión transportistas')")
    assert {r[1] for r in got} == {ARTICLES[0].title, ARTICLES[1].title}
    assert [r[0] for r in got] == list(range(1, len(got) + 1))
    assert all(a[3] >= b[3] for a, b in zip(got, got[1:], strict=False))
    assert titles(room, "extorsión AND transportistas") == [r[1] for r in got]


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
    before = room.query("select article_id, score from search('extorsión OR cupos OR transportistas')")
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(room.db.read_bytes())
    with store.open_db(copy) as con:
        assert search_index.merge(con)
        assert con.execute("select count(*) from search_postings_recent").fetchone() == (0,)
        after = con.execute(
            "select article_id, score from search('extorsión OR cupos OR transportistas')"
        ).fetchall()
    assert after == before and len(before) == 3


def test_cli_search_prints_the_best_matches_from_the_analyst_copy(room, capsys):
    room.db.with_name("vigia.analyst.duckdb").write_bytes(room.db.read_bytes())
    assert main(["search", "extorsión transportistas", "--db", str(room.db), "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("  1.") and "transportistas" in out[1].lower()
    assert len([line for line in out if line.lstrip()[:2] in ("1.", "2.")]) == 2
    assert main(["search", "qwertyuiop", "--db", str(room.db)]) == 0
    assert "no article matches" in capsys.readouterr().out


def test_cli_search_without_an_analyst_copy_is_a_clear_error(tmp_path, capsys):
    assert main(["search", "x", "--db", str(tmp_path / "none.duckdb")]) == 3
    assert "no analyst copy" in capsys.readouterr().err


# ---------------------------------------------------------------- the query language, on known texts

KNOWN = [
    Item(
        "andina",
        "Capturan a miembros del Tren de Aragua en San Martín de Porres",
        "La policía detuvo a cinco integrantes de la organización criminal Tren de Aragua. " + prose(11),
        NOW - timedelta(days=1),
        topics=("organized_crime",),
        places=("1501",),
    ),
    Item(
        "viajes",
        "Guía del tren a Machu Picchu",
        "El tren sale de Ollantaytambo; los turistas de Aragua y de Lima viajan en el tren de lujo. "
        + prose(12),
        NOW - timedelta(days=1),
        relevant=False,
    ),
    Item(
        "rpp",
        "Extorsionadores atacan a transportistas en Trujillo",
        "Los extorsionadores cobran cupos a las empresas de transporte de La Libertad. " + prose(13),
        NOW - timedelta(days=3),
        topics=("extortion",),
        places=("13",),
    ),
    Item(
        "correo",
        "Denuncian extorsión en mercado de Gamarra",
        "Una operación policial busca a los responsables. " + prose(14),
        NOW - timedelta(days=10),
        topics=("extortion",),
        places=("1501",),
    ),
    Item(
        "limapost",
        "Police arrest extortionists in Trujillo",
        "Officers raided the hideout after several attacks on bus drivers. " + prose(15),
        NOW,
        topics=("extortion",),
        places=("13",),
        language="en",
    ),
    Item(
        "deportes",
        "Alianza Lima gana el clásico",
        "El equipo celebró en el estadio. " + prose(16),
        NOW,
        relevant=False,
    ),
]


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    newsroom = Newsroom(tmp_path_factory.mktemp("known") / "vigia.duckdb")
    newsroom.load(KNOWN, NOW)
    return newsroom


def found(room: Newsroom, query: str, **filters) -> set[int]:
    """Which of KNOWN the query finds, through the CLI's path (Python parser, the macro's SQL)."""
    with duckdb.connect(str(room.db), read_only=True) as con:
        hits = search.search(con, query, limit=100, **filters)
    by_title = {item.title: i for i, item in enumerate(KNOWN)}
    return {by_title[h["title"]] for h in hits}


def found_in_sql(room: Newsroom, query: str) -> set[int]:
    by_title = {item.title: i for i, item in enumerate(KNOWN)}
    return {by_title[r[0]] for r in room.query("select title from search(?, max_results := null)", [query])}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"tren de aragua"', {0}),  # the guide has both words, not the phrase
        ("tren aragua", {0, 1}),
        ('"Tren de Aragua" OR gamarra', {0, 3}),
        ("extors*", {2, 3}),
        ("extort*", {4}),
        ("extorsionadores", {2, 3}),  # stems: extorsión is of the family
        ("extorsion -gamarra", {2}),
        ("extorsion NOT gamarra", {2}),
        ("trujillo", {2, 4}),
        ("tren OR extorsion", {0, 1, 2, 3}),
        ("de la", set()),
        ("zzzzqx", set()),
        ('"machu picchu" tren', {1}),
        ("-tren", "error"),
    ],
)
def test_queries_find_exactly_the_texts_that_hold_them(known, query, expected):
    if expected == "error":
        with pytest.raises(ConfigError):
            found(known, query)
        return
    assert found(known, query) == expected
    assert found_in_sql(known, query) == expected  # the shell's macro agrees


def test_parentheses_and_words_no_article_holds_need_the_cli(known):
    assert found(known, "(tren OR cupos) aragua") == {0, 1}
    assert found(known, "trujillo AND (extorsionadores OR extortionists)") == {2, 4}
    assert found(known, "NOT (gamarra OR aragua) extors*") == {2}
    # "attacks" is in [4]; Snowball's English stem of "attacking" is the same, though no text holds it.
    assert found(known, "attacking") == {4}
    # The macro finds a word's family through a form the index holds: operaciones → operación.
    assert found_in_sql(known, "operaciones") >= {3}
    for bad in ("(tren", "tren OR", "AND tren"):
        with pytest.raises(ConfigError):
            search.parse_query(bad)


def test_filters_narrow_before_the_best_are_taken(known):
    today = (NOW + timedelta(hours=-5)).date()
    assert found(known, "tren OR extors* OR trujillo", relevant=True) == {0, 2, 3, 4}
    assert found(known, "tren", relevant=False) == {1}
    assert found(known, "extors* OR trujillo", department="La Libertad") == {2, 4}
    assert found(known, "extors* OR trujillo", department="la libertad") == {2, 4}
    assert found(known, "extors* OR trujillo", department="13") == {2, 4}
    assert found(known, "extors* OR trujillo OR tren", topic="organized_crime") == {0}
    assert found(known, "extors* OR trujillo", outlet="rpp.pe") == {2}
    assert found(known, "extors* OR trujillo", outlet="rpp") == {2}
    assert found(known, "extors* OR extort*", since=today - timedelta(days=5)) == {2, 4}
    assert found(known, "extors* OR extort*", until=today - timedelta(days=5)) == {3}
    # One best result among the filtered ones, not the one best overall filtered away.
    with duckdb.connect(str(known.db), read_only=True) as con:
        (hit,) = search.search(con, "extors* OR trujillo", limit=1, outlet="correo")
    assert hit["title"] == KNOWN[3].title
    assert known.query(
        "select count(*) from search('extors* OR trujillo', department := 'La Libertad', max_results := null)"
    ) == [(2,)]


def test_the_stop_words_of_python_and_sql_agree(known):
    (words,) = known.query("select search_words(?)", [search._STOP_WORDS])[0]
    assert words == []


def test_cli_search_filters_and_formats(known, capsys):
    known.db.with_name("vigia.analyst.duckdb").write_bytes(known.db.read_bytes())
    db = str(known.db)
    assert (
        main(["search", "extors* OR trujillo", "--db", db, "--department", "La Libertad", "--format", "json"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {r["title"] for r in rows} == {KNOWN[2].title, KNOWN[4].title}
    assert set(rows[0]) >= {
        "rank",
        "score",
        "day",
        "outlet",
        "title",
        "url",
        "relevant",
        "topics",
        "departments",
    }
    assert main(["search", '"tren de aragua"', "--db", db, "--format", "csv", "--relevant"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("rank,score,day,outlet,title,url") and len(lines) == 2
    assert KNOWN[0].title in lines[1]
    assert main(["search", "tren", "--db", db, "--no-relevant", "--since", "2000-01-01"]) == 0
    out = capsys.readouterr().out
    assert "Machu Picchu" in out and "(not relevant)" in out and "Aragua en San" not in out
    assert main(["search", "(tren", "--db", db]) == 2
    assert "parenthesis" in capsys.readouterr().err


def test_the_macro_works_in_the_official_duckdb_shell(known):
    from pipeline.cli import analyst as analysis_cli

    cli = analysis_cli.duckdb_cli()
    assert cli is not None, "duckdb-cli is a locked dependency"
    out = subprocess.run(
        [cli, "-readonly", "-list", "-noheader", str(known.db)],
        input="select title from search('\"tren de aragua\" OR extors*') order by title;\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.splitlines() == sorted([KNOWN[0].title, KNOWN[2].title, KNOWN[3].title])
