"""An analyst keeps a read-only session open on the analyst copy while ingestion cycles run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest

from pipeline import tasks as ingest
from pipeline.cli import analyst as analysis_cli
from pipeline.cli import main
from tests.conftest import make_settings
from tests.localweb import sample_feeds_toml


def _feeds_toml(base: str, outlets: set[str]) -> str:
    blocks = sample_feeds_toml(base).strip().split("\n\n")
    return "\n\n".join(b for b in blocks if any(f'name = "{o}"' in b for o in outlets)) + "\n"


def test_a_session_held_open_across_two_cycles_sees_the_new_rows_after_reconnecting(tmp_path, sample_web):
    settings = make_settings(tmp_path, _feeds_toml(sample_web.base, {"diario-sur", "agencia-andes"}))
    first = ingest.run_once(settings)
    assert first.new_articles == 7

    analyst = duckdb.connect(str(settings.analyst_db), read_only=True)
    try:
        seen = analyst.execute("select count(*) from articles").fetchone()[0]
        topics_before = analyst.execute("select sum(articles) from daily_topic_counts").fetchone()[0]
        assert seen == 7 and topics_before > 0

        # Two more outlets: the second cycle loads while the analyst's session stays open.
        settings.feeds_path.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")
        second = ingest.run_once(settings)
        assert second.new_articles == 5

        # The open session still reads the copy it opened: a whole cycle, never half of one.
        assert analyst.execute("select count(*) from articles").fetchone()[0] == 7
        assert analyst.execute("select count(*) from runs").fetchone()[0] == 1
        assert analyst.execute("select sum(articles) from daily_topic_counts").fetchone()[0] == topics_before
    finally:
        analyst.close()

    with duckdb.connect(str(settings.analyst_db), read_only=True) as again:
        assert again.execute("select count(*) from articles").fetchone()[0] == 12
        assert again.execute("select count(*) from runs").fetchone()[0] == 2
        assert again.execute("select count(*) from article_stories").fetchone()[0] == 12
        assert again.execute("select sum(articles) from daily_topic_counts").fetchone()[0] > topics_before
        # Views, macros and search all work in a read-only session.
        hits = again.execute("select title from search('extorsión transportistas')").fetchall()
        assert hits and "Transportistas" in hits[0][0]


def test_the_writer_never_waits_for_an_analyst_session(loaded_settings):
    settings = replace(loaded_settings, db_lock_timeout=2.0)
    sessions = [duckdb.connect(str(settings.analyst_db), read_only=True) for _ in range(3)]
    try:
        for con in sessions:
            con.execute("select * from relevant_articles").fetchall()
        # Were the analysts on the database file itself, this would fail after 2 s with DatabaseBusy.
        summary = ingest.run_once(settings)
        assert summary.feeds_ok == 4
    finally:
        for con in sessions:
            con.close()


# ---------------------------------------------------------------- `python -m pipeline sql` (`make sql`)


@pytest.fixture
def loaded(loaded_settings):
    return loaded_settings


def test_sql_command_runs_statements_on_the_analyst_copy(loaded, capsys):
    assert (
        main(
            [
                "sql",
                "--db",
                str(loaded.db_path),
                "-c",
                "select count(*) as articles from articles; select topic from daily_topic_counts limit 1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "articles" in out and "12" in out and "topic" in out


def test_sql_command_cannot_write(loaded, capsys):
    assert main(["sql", "--db", str(loaded.db_path), "-c", "delete from articles"]) == 1
    assert "read-only" in capsys.readouterr().out
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 12


def _labels(settings) -> list[tuple]:
    with duckdb.connect(str(settings.analyst_db), read_only=True) as con:
        return con.execute(
            "select article_id, label, labelled_by, note from labels order by labelled_at"
        ).fetchall()


def test_the_documented_label_insert_runs_with_sql_write_and_reaches_the_analyst_copy(loaded, capsys):
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        article_id, url = con.execute("select article_id, url from articles order by url limit 1").fetchone()
    insert = (
        "insert into labels (article_id, label, labelled_by, note) "
        f"select article_id, 'relevant', 'ana', 'extortion of bus drivers' from articles where url = '{url}'"
    )
    assert main(["sql", "--write", "--db", str(loaded.db_path), "-c", insert]) == 0
    assert "committed" in capsys.readouterr().out
    assert _labels(loaded) == [(article_id, "relevant", "ana", "extortion of bus drivers")]


def test_sql_write_is_all_or_nothing(loaded, capsys):
    statements = (
        "insert into labels (article_id, label) values ('x', 'relevant'); insert into labels values (1"
    )
    assert main(["sql", "--write", "--db", str(loaded.db_path), "-c", statements]) == 1
    assert "rolled back" in capsys.readouterr().out
    assert _labels(loaded) == []


def test_label_command_finds_the_article_by_its_url_as_the_feed_gave_it(loaded, capsys):
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        article_id, url = con.execute("select article_id, url from articles order by url limit 1").fetchone()
    messy = url.replace("://", "://WWW.", 0) + "?utm_source=x#top"
    assert main(["label", messy, "not_relevant", "--by", "luis", "--db", str(loaded.db_path)]) == 0
    assert (
        main(
            [
                "label",
                article_id,
                "relevant",
                "--by",
                "ana",
                "--note",
                "second look",
                "--db",
                str(loaded.db_path),
            ]
        )
        == 0
    )
    assert _labels(loaded) == [
        (article_id, "not_relevant", "luis", None),
        (article_id, "relevant", "ana", "second look"),
    ]
    assert main(["label", "https://example.org/unknown", "relevant", "--db", str(loaded.db_path)]) == 2
    assert "no stored article" in capsys.readouterr().err


def test_the_fallback_shell_reads_statements_until_quit(loaded):
    out = io.StringIO()
    with analysis_cli.analyst_connection(loaded) as con:
        analysis_cli.repl(
            con, io.StringIO("select 40 +\n 2 as answer;\n.tables\nselect nonsense;\n.quit\nselect 1;\n"), out
        )
    text = out.getvalue()
    assert "answer" in text and "42" in text
    assert "relevant_articles" in text and "VIEW" in text
    assert "error:" in text and text.count("┌") == 2  # .quit stopped before the last statement


def _shell(settings, script: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m pipeline sql`` as `make sql` runs it, with the analyst typing ``script``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "sql", "--db", str(settings.db_path), *args],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.db_path.parent,
        env=env,
    )


def test_make_sql_is_the_official_duckdb_shell_read_only_and_locked(loaded):
    cli = analysis_cli.duckdb_cli()
    assert cli is not None and cli.endswith("duckdb_cli/duckdb")  # the locked duckdb-cli package's
    run = _shell(
        loaded,
        "select count(*) as n from articles;\n"
        ".mode csv\n"
        "select title from stories order by title limit 1;\n"
        ".tables\n"
        "copy (select title, url from relevant_articles) to 'exports/relevant.csv';\n"
        "copy (select * from daily_counts) to 'exports/daily.parquet' (format parquet);\n",
    )
    assert run.returncode == 0, run.stderr
    assert "12" in run.stdout and "title" in run.stdout and "daily_counts" in run.stdout
    exports = loaded.db_path.parent / "exports"
    assert (exports / "relevant.csv").read_text().startswith("title,url")
    assert (exports / "daily.parquet").stat().st_size > 0
    for statement, refusal in [
        ("select * from read_text('/etc/passwd');", "disabled by configuration"),
        (f"attach '{loaded.db_path}' as main_db;", "disabled by configuration"),
        ("copy articles to '/tmp/vigia-articles.csv';", "disabled by configuration"),
        ("set enable_external_access = true;", "configuration has been locked"),
        ("delete from articles;", "read-only"),
    ]:
        run = _shell(loaded, statement + "\n")
        assert refusal in run.stdout + run.stderr, statement
    assert not os.path.exists("/tmp/vigia-articles.csv")
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 12


def test_an_older_duckdb_on_the_path_is_never_used(loaded, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "duckdb"
    fake.write_text('#!/bin/sh\necho "v0.9.0 old"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert analysis_cli.duckdb_cli() != str(fake)  # an older shell may not read this file


# ---------------------------------------------------------------- analysts read, never write


@pytest.mark.parametrize(
    "statement, refusal",
    [
        ("copy (select 1) to '{outside}/out.csv'", "Permission Error"),
        ("copy articles to '{outside}/articles.parquet'", "Permission Error"),
        ("select * from read_text('/etc/passwd')", "Permission Error"),
        ("select * from read_text('{db}.lock')", "Permission Error"),  # the data directory itself
        ("attach '{db}' as pipeline (read_only)", "Permission Error"),  # would take the loader's lock
        ("copy (select 1) to '{exports}/../escape.csv'", "Permission Error"),
        ("set enable_external_access = true", "locked"),
        ("set allowed_directories = ['/']", "locked"),
        ("set lock_configuration = false", "locked"),
        ("install httpfs", "Permission Error"),
        ("load fts", "Permission Error"),
        ("export database '{outside}/dump'", "Permission Error"),
    ],
)
def test_the_analyst_shell_reaches_no_file_and_not_the_main_database(
    loaded, capsys, tmp_path, statement, refusal
):
    outside = tmp_path / "outside"
    outside.mkdir()
    text = statement.format(outside=outside, db=loaded.db_path, exports=analysis_cli.exports_dir(loaded))
    assert main(["sql", "--db", str(loaded.db_path), "-c", text]) == 1
    out = capsys.readouterr().out
    assert refusal in out, out
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape.csv").exists()
    # Nothing was left holding the main database: the next load goes ahead at once.
    assert ingest.run_once(replace(loaded, db_lock_timeout=0.5)).feeds_ok == 4


def test_the_analyst_shell_exports_under_exports_and_reads_back(loaded, capsys):
    target = analysis_cli.exports_dir(loaded) / "answer.csv"
    statements = f"copy (select 42 as answer) to '{target}'; select answer from read_csv('{target}')"
    assert main(["sql", "--db", str(loaded.db_path), "-c", statements]) == 0
    assert "42" in capsys.readouterr().out and target.read_text().split() == ["answer", "42"]


def test_the_same_lock_holds_in_the_official_duckdb_shell(loaded, tmp_path):
    """Run only where DuckDB's shell of the library's version is installed (pip install duckdb-cli)."""
    cli = analysis_cli.duckdb_cli()
    if cli is None:
        pytest.skip(
            f"no duckdb shell v{duckdb.__version__} on the PATH (pip install duckdb-cli=={duckdb.__version__})"
        )
    exports = analysis_cli.exports_dir(loaded)
    exports.mkdir(exist_ok=True)
    script = (
        f"copy (select 1) to '{tmp_path}/out.csv';\n"
        f"attach '{loaded.db_path}' as pipeline;\n"
        f".shell touch {tmp_path}/shell\n"
        f".open {loaded.db_path}\n"
        "set enable_external_access = true;\n"
        f"copy (select count(*) as n from articles) to '{exports}/n.csv';\n"
    )
    result = subprocess.run(
        [cli, *analysis_cli.cli_arguments(loaded)], input=script, capture_output=True, text=True, timeout=60
    )
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "shell").exists()
    assert result.stderr.count("Permission Error") == 2 and "cannot be used in -safe mode" in result.stderr
    assert "locked" in result.stderr
    assert (exports / "n.csv").read_text().split() == ["n", "12"]


def test_sql_write_refuses_a_script_that_commits_itself_and_commits_nothing(loaded, capsys):
    insert = "insert into labels (article_id, label) values ('{}', 'relevant')"
    scripts = [
        # The case: a COMMIT in the middle, then a statement that fails when it runs.
        f"{insert.format('a')}; commit; {insert.format('b')}; insert into labels values (1)",
        f"{insert.format('a')}; commit; {insert.format('b')}; bad sql",  # ... or does not parse
        f"begin transaction; {insert.format('a')}; commit",
        f"{insert.format('a')}; rollback; {insert.format('b')}",
        f"attach '{loaded.analyst_db}' as other; {insert.format('a')}",
    ]
    for script in scripts:
        code = main(["sql", "--write", "--db", str(loaded.db_path), "-c", script])
        captured = capsys.readouterr()
        if "bad sql" in script:
            assert code == 1 and "rolled back: nothing written" in captured.out
        else:
            assert code == 2, script
            assert "nothing was run" in captured.err and "one transaction" in captured.err
        assert _labels(loaded) == []
    with duckdb.connect(str(loaded.db_path), read_only=True) as con:
        assert con.execute("select count(*) from labels").fetchone()[0] == 0
