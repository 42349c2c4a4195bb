"""The manual (README.md and docs/) documents what a user can touch: commands, make targets,
settings, tables, views, links; the README stays a short walk that starts with the offline demo;
the docs build as a website, offline, with no broken link."""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
import sys
import unicodedata

import pytest
from markdown.extensions.toc import slugify

from pipeline import store
from pipeline.cli import build_parser
from pipeline.settings import Settings
from tests import manual
from tests.conftest import REPO

MANUAL = manual.text()  # README.md and every page of docs/: "documented" means somewhere in there


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_is_in_the_manual(command):
    assert f"python -m pipeline {command}" in MANUAL


def test_every_make_target_is_in_the_manual():
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.M).group(1).split()
    missing = [t for t in phony if t not in ("help", "venv", "clean") and f"make {t}" not in MANUAL]
    assert not missing


def test_make_help_lists_every_target():
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.M).group(1).split()
    shown = subprocess.run(["make", "--no-print-directory", "help"], capture_output=True, text=True, cwd=REPO)
    assert shown.returncode == 0
    listed = {line.split()[1] for line in shown.stdout.splitlines() if line.startswith("make ")}
    assert listed == set(phony) - {"help", "venv", "clean"}


# Settings fields with a short variable name instead of VIGIA_<FIELD>, and one that is internal.
SHORT = {
    "feeds_path": "VIGIA_FEEDS",
    "db_path": "VIGIA_DB",
    "analyst_db_path": "VIGIA_ANALYST_DB",
    "staging_dir": "VIGIA_STAGING",
    "sql_dir": None,
}


def test_every_setting_the_code_reads_is_in_the_manual():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "pipeline").rglob("*.py"))
    names = set(re.findall(r"\bVIGIA_[A-Z][A-Z0-9_]*[A-Z0-9]\b", code))
    for f in dataclasses.fields(Settings):
        name = SHORT.get(f.name, f"VIGIA_{f.name.upper()}")
        if name:
            names.add(name)
    missing = sorted(n for n in names if f"`{n}`" not in MANUAL)
    assert not missing


def test_every_table_and_view_is_in_the_manual(tmp_path):
    with store.open_db(tmp_path / "r.duckdb") as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        ]
    assert "articles" in names and "relevant_articles" in names
    missing = sorted(n for n in names if f"`{n}`" not in MANUAL and n != "schema_migrations")
    assert not missing


def test_every_column_of_the_core_tables_is_in_the_manual(tmp_path):
    with store.open_db(tmp_path / "r.duckdb") as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_name in ('feeds', 'fetches', 'articles', 'classifications', 'labels', 'runs')"
        ).fetchall()
    missing = sorted(f"{t}.{c}" for t, c in rows if f"`{c}`" not in MANUAL)
    assert not missing


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path) -> set[str]:
    """The anchors of a page that both GitHub and the mkdocs site give its headings (they differ
    on accents: a link must work in both)."""
    body = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", body, re.M)
    return {_anchor(h) for h in headings} & {slugify(h, "-") for h in headings}


def _links(path) -> list[tuple[str, str]]:
    """(file, anchor) of every link of a page to a file of the repository or an anchor."""
    body = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"\]\((?!https?:|mailto:)([^)#\s]*)(?:#([^)\s]+))?\)", body)


@pytest.mark.parametrize("path", manual.files(), ids=lambda p: p.name)
def test_every_link_points_at_a_file_and_heading_that_exist(path):
    for target, anchor in _links(path):
        page = (path.parent / target).resolve() if target else path
        assert page.exists(), f"{path.name}: {target}"
        if anchor:
            assert anchor in _anchors(page), f"{path.name}: {target}#{anchor}"


def test_the_readme_is_a_short_walk_that_starts_with_the_offline_demo():
    readme = manual.README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 220
    commands = [line.split("#")[0].strip() for b in manual.blocks(readme, "sh") for line in b.splitlines()]
    assert commands[0] == "make demo"
    assert commands.index("make demo") < commands.index("make run") < commands.index("make test")
    # How to call the command line without an activated environment, and where the rest lives.
    for way in (".venv/bin/python -m pipeline", "uv run python -m pipeline", "source .venv/bin/activate"):
        assert way in readme
    linked = {target for target, _ in _links(manual.README)}
    assert {f"docs/{p.name}" for p in manual.DOCS.glob("*.md")} <= linked


def test_every_page_of_docs_is_in_the_site_s_navigation():
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(f": {p.name}" in nav for p in manual.DOCS.glob("*.md"))


def test_the_docs_build_offline_as_a_strict_site(tmp_path):
    """`make docs`: mkdocs --strict turns every warning (a broken link or anchor, a page left out
    of the navigation) into a failure; the pages it writes load nothing from another server."""
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert build.returncode == 0, build.stderr
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) >= len(list(manual.DOCS.glob("*.md")))
    for page in pages:
        html = page.read_text(encoding="utf-8")
        remote = re.findall(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=\"(?:https?:)?//[^\"]+", html)
        assert not remote, (page.name, remote)


def _documented_command_lines() -> list[str]:
    """Every `python -m pipeline ...` line of the manual's shell blocks that is a complete command
    (placeholders such as <file> or [--db FILE] are syntax, not commands; a command that goes on
    over several lines, `sql --write -c "..."`, is run by its own test)."""
    lines = set()
    for path in manual.files():
        for block in manual.blocks(path.read_text(encoding="utf-8"), "sh"):
            for line in block.splitlines():
                code = line.split(" #")[0]  # a comment may name the command a make target runs
                if "python -m pipeline " not in code or re.search(r"[<\[]|\.\.\.|…", code):
                    continue
                command = code[code.index("python -m pipeline ") + len("python -m pipeline ") :].strip()
                try:
                    shlex.split(command)
                except ValueError:  # an open quote: the command goes on in the next lines
                    continue
                lines.add(command)
    return sorted(lines)


@pytest.mark.parametrize("line", _documented_command_lines())
def test_every_documented_command_line_is_accepted_by_the_real_parser(line):
    words = shlex.split(line, comments=True)
    for stop in (">", "<", "|"):
        words = words[: words.index(stop)] if stop in words else words
    try:
        build_parser().parse_args(words)
    except SystemExit as exit:
        pytest.fail(f"python -m pipeline {line}: the parser exits {exit.code}")


def test_the_documented_label_insert_is_valid_sql(tmp_path):
    block = re.search(r"insert into labels.*?;", MANUAL, re.S)
    assert block is not None
    with store.open_db(tmp_path / "r.duckdb") as con:
        con.execute(block.group(0))  # no article has that URL: inserts nothing, but must parse and bind
        assert con.execute("select count(*) from labels").fetchone()[0] == 0
