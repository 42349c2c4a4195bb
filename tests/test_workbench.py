"""The analyst's workbench as the manual shows it: the README's walk from `make demo`, and every
command and query of the analysts' guide (docs/analysts.md, docs/views.md), run for real — `make demo`
then every make target, the shell, the one-liners, the notebook example."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import duckdb
import pytest

from pipeline import tasks as ingest
from pipeline.cli import main
from tests import manual
from tests.conftest import REPO, make_settings
from tests.localweb import sample_feeds_toml

_section = manual.section
_blocks = manual.blocks


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from tests.localweb import LocalWeb, sample_site

    tmp = tmp_path_factory.mktemp("workbench")
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base))
        settings = make_settings(tmp, sample_feeds_toml(web.base), db_path=tmp / "data" / "vigia.duckdb")
        ingest.run_once(settings)
    return settings


def test_every_one_liner_of_the_questions_runs_on_a_loaded_database(loaded):
    (block,) = _blocks(_section("## Questions in one line"), "sql")
    queries = [line for line in block.splitlines() if line.startswith("select")]
    assert len(queries) >= 8
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        answered = {q: con.execute(q).fetchall() for q in queries}
    # The sample web has stories, outlets, Trujillo and La Libertad: these answer with rows.
    for fragment in ("from stories", "from volume", "search('trujillo'", "from outlet_coverage"):
        assert any(rows for q, rows in answered.items() if fragment in q), fragment


def test_the_views_examples_and_the_search_macro_examples_run(loaded):
    section = _section("## The views") + _section("## Search")
    statements = [s.query for block in _blocks(section, "sql") for s in duckdb.extract_statements(block)]
    assert len(statements) >= 10  # the sections still show their examples
    with duckdb.connect(str(loaded.analyst_db), read_only=True) as con:
        for statement in statements:
            con.execute(statement).fetchall()


def test_the_notebook_example_runs_as_written(loaded, monkeypatch):
    (example,) = [
        b for b in _blocks(_section("## Connecting while ingestion runs"), "python") if "duckdb" in b
    ]
    monkeypatch.chdir(loaded.db_path.parent.parent)  # where data/vigia.analyst.duckdb is
    namespace: dict = {}
    exec(compile(example, "docs/analysts.md", "exec"), namespace)  # noqa: S102
    assert namespace["rows"] and namespace["table"].num_columns > 5


def test_the_guide_s_search_and_report_commands_run(loaded, capsys):
    commands = []
    for section in ("## Search", "## Report", "## Calling the commands", "## Calling the command line"):
        for block in _blocks(_section(section), "sh"):
            for line in block.splitlines():
                line = line.split("#")[0].split(">")[0].strip()
                if "python -m pipeline" in line:
                    commands.append(
                        shlex.split(line[line.index("python -m pipeline") + len("python -m pipeline") :])
                    )
    assert {c[0] for c in commands} == {"search", "report"} and len(commands) >= 5
    for args in commands:
        extra = ["--out", str(loaded.db_path.parent / "report")] if args[0] == "report" else []
        assert main([*args, "--db", str(loaded.db_path), *extra]) == 0, args
    capsys.readouterr()


def test_the_guide_s_exports_work_in_the_shell(loaded):
    (block,) = [b for b in _blocks(_section("## Connecting while ingestion runs"), "sql") if "copy" in b]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "sql", "--db", str(loaded.db_path)],
        input=block,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=loaded.db_path.parent.parent,  # the repository's root: data/exports/ is beside the database
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    exports = loaded.db_path.parent / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["daily_counts.parquet", "outlets.csv", "stories.csv"]
    assert (exports / "outlets.csv").read_text().startswith("outlet,feeds,articles")


def test_every_make_target_an_analyst_uses_works_right_after_make_demo(tmp_path):
    """`make demo`, then `make sql`, `make sql DB=demo` and `make report` with nothing collected."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    env["VIGIA_DB"] = str(tmp_path / "data" / "vigia.duckdb")  # the Makefile's default, somewhere else

    def make(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            env=env,
        )

    demo = make("demo")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "make sql DB=demo" in demo.stdout and (tmp_path / "data" / "demo" / "demo.analyst.duckdb").exists()
    # The README's walk after the demo, each command as it shows it; its one-line question typed
    # into the shell.
    walk = _section("## Try it first: `make demo` (offline)")
    (question,) = _blocks(walk, "sql")
    lines = [line.split(" #")[0].strip() for block in _blocks(walk, "sh") for line in block.splitlines()]
    assert lines[0] == "make demo" and len(lines) >= 5
    for line in lines[1:]:
        words = shlex.split(line)
        if words[0] == "make":
            run = make(*words[1:], stdin=question)
        else:  # .venv/bin/python -m pipeline ..., from the repository's root
            run = subprocess.run(words, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
        assert run.returncode == 0, (line, run.stderr[-3000:])
        assert run.stdout.strip() or "report" in line, line
        if line == "make sql DB=demo":
            assert "current_stories" in run.stdout and "extortion" in run.stdout
    for args in (("sql",), ("sql", "DB=demo")):
        run = make(*args, stdin="select count(*) as stories from stories;\n.tables\n")
        assert run.returncode == 0, run.stderr
        assert "stories" in run.stdout and "period_changes" in run.stdout
    report = make("report")
    assert report.returncode == 0, report.stderr
    assert "reading the demo database" in report.stderr
    assert (tmp_path / "data" / "demo" / "report" / "report.html").stat().st_size > 1_000_000
    # Once a cycle has run, they read the pipeline's own database, and say where it is otherwise.
    assert main(["search", "x", "--db", str(tmp_path / "none.duckdb")]) == 3
