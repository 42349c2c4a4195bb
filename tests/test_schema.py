"""sql/schema.yml holds on a loaded database, and docs/database.md is generated from it."""

from __future__ import annotations

import duckdb

from pipeline import sql


def test_a_loaded_database_has_exactly_the_declared_schema_and_passes_every_check(loaded_settings):
    # One cycle of the sample web (the session's, copied): every stage has written its tables.
    with duckdb.connect(str(loaded_settings.analyst_db), read_only=True) as con:
        declared = sql.declared_schema()
        # The checks compare rows: the tables they guard hold some.
        for table in ("articles", "fetches", "classifications", "article_stories", "trend_stories"):
            assert con.execute(f"select count(*) from {table}").fetchall()[0][0] > 0, table
        assert sql.schema_problems(con, declared) == []
        # A check that fails is reported: the checker is not vacuous.
        broken = {"tables": {"feeds": declared["tables"]["feeds"]}, "views": {}}
        broken["tables"]["feeds"] = {
            **broken["tables"]["feeds"],
            "columns": {
                **broken["tables"]["feeds"]["columns"],
                "language": {"type": "VARCHAR", "checks": [{"accepted_values": ["xx"]}]},
            },
        }
        problems = sql.schema_problems(con, broken)
        assert any(p.startswith("feeds.language: ") for p in problems)
        assert any("in the database, not in sql/schema.yml" in p for p in problems)


def test_the_database_page_is_generated_from_the_schema_file():
    assert sql.DATABASE_PAGE.read_text(encoding="utf-8") == sql.database_page(), (
        "docs/database.md is stale: run .venv/bin/python -m pipeline.sql docs"
    )
