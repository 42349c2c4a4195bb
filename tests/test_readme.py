"""The README documents what a user can touch: commands, make targets, settings, tables, views, links."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

import pytest

from pipeline import store
from pipeline.cli import build_parser
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_is_in_the_readme(command):
    assert f"python -m pipeline {command}" in README


def test_every_make_target_is_in_the_readme():
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.M).group(1).split()
    missing = [t for t in phony if t not in ("help", "venv", "clean") and f"make {t}" not in README]
    assert not missing


# Settings fields with a short variable name instead of VIGIA_<FIELD>, and one that is internal.
SHORT = {
    "feeds_path": "VIGIA_FEEDS",
    "db_path": "VIGIA_DB",
    "analyst_db_path": "VIGIA_ANALYST_DB",
    "staging_dir": "VIGIA_STAGING",
    "sql_dir": None,
}


def test_every_setting_the_code_reads_is_in_the_readme():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "pipeline").rglob("*.py"))
    names = set(re.findall(r"\bVIGIA_[A-Z][A-Z0-9_]*[A-Z0-9]\b", code))
    for f in dataclasses.fields(Settings):
        name = SHORT.get(f.name, f"VIGIA_{f.name.upper()}")
        if name:
            names.add(name)
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing


def test_every_table_and_view_is_in_the_readme(tmp_path):
    with store.open_db(tmp_path / "r.duckdb") as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        ]
    assert "articles" in names and "relevant_articles" in names
    missing = sorted(n for n in names if f"`{n}`" not in README and n != "schema_migrations")
    assert not missing


def test_every_column_of_the_core_tables_is_in_the_readme(tmp_path):
    with store.open_db(tmp_path / "r.duckdb") as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_name in ('feeds', 'fetches', 'articles', 'classifications', 'labels', 'runs')"
        ).fetchall()
    missing = sorted(f"{t}.{c}" for t, c in rows if f"`{c}`" not in README)
    assert not missing


def _anchor(heading: str) -> str:
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_every_internal_link_has_its_heading():
    body = re.sub(r"```.*?```", "", README, flags=re.S)
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", body, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", body))
    assert links and not sorted(links - anchors)


def test_relative_links_point_at_files_that_exist():
    for target in re.findall(r"\]\((?!https?:|#|mailto:)([^)#]+)", README):
        assert (REPO / target).exists(), target


def test_the_documented_label_insert_is_valid_sql(tmp_path):
    block = re.search(r"insert into labels.*?;", README, re.S)
    assert block is not None
    with store.open_db(tmp_path / "r.duckdb") as con:
        con.execute(block.group(0))  # no article has that URL: inserts nothing, but must parse and bind
        assert con.execute("select count(*) from labels").fetchone()[0] == 0
