"""The classifier's commands and its tables, on real DuckDB files under tmp_path."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.classify.versions import base_model, labelled_documents, load_model, newest_model_from
from pipeline.cli.classify import classify_lines, cmd_classify, register
from pipeline.store import open_db
from tests import manual

ARTICLES = [
    (
        "a1",
        "Sicarios atacan bus en Comas",
        "Dos sicarios dispararon contra un bus en Comas por no pagar cupos.",
        "es",
    ),
    (
        "a2",
        "Perú gana a Bolivia",
        "La selección peruana de fútbol venció 2-0 a Bolivia en el Estadio Nacional.",
        "es",
    ),
    (
        "a3",
        "Lluvias en Piura",
        "Las lluvias dejaron damnificados; se declaró estado de emergencia por huaicos.",
        "es",
    ),
    (
        "a4",
        "Police raid gang in Trujillo",
        "Peruvian police arrested ten members of an extortion gang.",
        "en",
    ),
    ("a5", "Copper output rises in Peru", "Peru's copper production rose 5% on higher output.", "en"),
    (
        "a6",
        "Informal miners block roads",
        "Informal miners in Peru blocked a highway to demand a permit extension.",
        "en",
    ),
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command", required=True))
    return p


def run(*argv: str) -> int:
    args = parser().parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "vigia.duckdb"
    now = datetime.now(UTC)
    with open_db(path, lock_timeout=10) as con:
        for article_id, title, text, language in ARTICLES:
            con.execute(
                "insert into articles (article_id, url, feed, title, summary, text, fetched_at, language,"
                " extraction_status, entry_hash, content_hash, first_seen_at, updated_at)"
                " values (?, ?, 'test', ?, '', ?, ?, ?, 'ok', 'e', 'c', ?, ?)",
                [article_id, f"https://example.pe/{article_id}", title, text, now, language, now, now],
            )
    return path


def label(db: Path, *rows: tuple[str, str]) -> None:
    with open_db(db, lock_timeout=10) as con:
        for article_id, value in rows:
            con.execute(
                "insert into labels (article_id, label, labelled_by) values (?, ?, 'analyst')",
                [article_id, value],
            )


def test_commands_are_documented():
    readme = manual.text()  # README.md and docs/
    for command in ("classify", "evaluate", "retrain", "reclassify"):
        assert f"python -m pipeline {command}" in readme


def test_classify_reads_and_writes_json_lines(capsys):
    lines = [
        json.dumps({"id": "x1", "title": ARTICLES[0][1], "text": ARTICLES[0][2]}),
        "not json",
        "",
        json.dumps(["a", "list"]),
        json.dumps({"title": "no id", "text": "x"}),
        json.dumps({"id": 7, "title": ARTICLES[1][1], "text": ARTICLES[1][2], "language": "es"}),
        json.dumps({"id": "x3", "title": None, "text": None}),
    ]
    args = parser().parse_args(["classify"])
    assert cmd_classify(args, stdin=io.StringIO("\n".join(lines) + "\n")) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 6  # one per non-blank input line, in order
    first = out[0]
    assert set(first) == {
        "id",
        "relevant",
        "score",
        "topics",
        "places",
        "primary_department",
        "province",
        "district",
        "evidence",
        "model_version",
    }
    assert first["id"] == "x1" and first["relevant"] is True and "homicide" in first["topics"]
    assert first["places"] == [{"ubigeo": "1501", "name": "Lima Metropolitana"}]
    assert (first["primary_department"], first["province"], first["district"]) == ("1501", "1501", "150110")
    assert set(first["evidence"]) == {"terms", "nearest_seed", "seed_similarity", "notes"}
    assert ["error" in o for o in out] == [False, True, True, True, False, True]
    assert out[4]["id"] == 7 and out[4]["relevant"] is False
    assert out[5]["id"] == "x3"


def test_classify_with_a_database_uses_its_newest_model(db):
    model = load_model(db)
    assert model.version == base_model().version  # no stored version yet
    (result,) = classify_lines(model, [json.dumps({"id": 1, "title": "t", "text": "extorsión en Trujillo"})])
    assert result["model_version"] == model.version


def test_evaluate_prints_per_language_metrics(tmp_path, capsys):
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"id": "r", "label": "relevant", "title": ARTICLES[0][1], "text": ARTICLES[0][2], "language": "es"},
        {"id": "n", "label": "not_relevant", "title": ARTICLES[4][1], "text": ARTICLES[4][2]},
        {"id": "m", "label": "ambiguous", "title": ARTICLES[3][1], "text": ARTICLES[3][2], "language": "en"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run("evaluate", str(path), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["tp"] == 1 and report["overall"]["tn"] == 1
    assert report["overall"]["ambiguous"] == 1 and report["overall"]["ambiguous_relevant"] == 1
    assert set(report["by_language"]) == {"es", "en"}  # "n" had no language: guessed
    assert run("evaluate", str(path), "--threshold", "0.0") == 0
    assert "threshold 0.00" in capsys.readouterr().out


def test_evaluate_reports_places_and_the_open_world(tmp_path, capsys):
    path = tmp_path / "labelled.jsonl"
    rows = [
        {
            "id": "t",
            "label": "relevant",
            "language": "es",
            "departments": ["13"],
            "primary_department": "13",
            "title": "Balean local en El Porvenir",
            "text": "Sicarios atacaron un local de Trujillo en El Porvenir.",
        },
        {
            "id": "s",
            "label": "relevant",
            "language": "es",
            "departments": ["20"],
            "primary_department": "20",
            "title": "Extorsión en Sullana",
            "text": "La PNP capturó a extorsionadores en Sullana.",
        },
        {
            "id": "o",
            "label": "not_relevant",
            "language": "en",
            "category": "open_world",
            "title": "Shooting at a mall in Ohio",
            "text": "Police in Columbus arrested a gunman after a shooting.",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run("evaluate", str(path), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["places"]["items"] == 2 and report["places"]["primary_accuracy"] == 1.0
    assert report["open_world"] == {"items": 1, "relevant": 0, "rate": 0.0, "examples": []}

    corpus = tmp_path / "corpus"
    (corpus / "feeds").mkdir(parents=True)
    (corpus / "pages").mkdir()
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{n}</link><description>{d}</description></item>"
        for n, (t, d) in enumerate(
            [
                ("Man charged after stabbing in Leeds", "West Yorkshire Police charged a man with murder."),
                ("New phone has a better camera", "The company unveiled its latest handset."),
                ("Extorsión en Trujillo", "La PNP detuvo a extorsionadores en Trujillo."),  # not open world
            ]
        )
    )
    (corpus / "feeds" / "one.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>',
        encoding="utf-8",
    )
    (corpus / "feeds" / "broken").write_bytes(b"<html>not a feed")
    page = "<html><head><title>Gardening</title></head><body><article><p>" + "Tomatoes like sun. " * 40
    (corpus / "pages" / "garden.html").write_text(page + "</p></article></body></html>", encoding="utf-8")
    assert run("evaluate", "--open-world", str(corpus)) == 0
    out = capsys.readouterr().out
    assert f"{corpus}: open world 4 items: 1 scored relevant (25.00%)" in out
    assert "open-world false positive: Extorsión en Trujillo" in out
    assert run("evaluate") == 2  # neither a file nor a corpus


def test_a_stored_model_of_an_older_classifier_gives_way_to_the_base_model(db, caplog):
    with open_db(db, lock_timeout=10) as con:
        con.execute(
            "insert into models values ('r1-old', now(), null, ?, '{}', 'old')",
            [json.dumps({"format": 1, "bias": 0, "dense": {}, "stems": {}, "seed_vectors": {}, "idf": {}})],
        )
    assert load_model(db).version == base_model().version
    assert "params format 1" in caplog.text


def test_labels_last_wins_and_ambiguous_is_kept_apart(db):
    label(db, ("a6", "relevant"), ("a6", "not_relevant"), ("a2", "ambiguous"), ("nope", "relevant"))
    with open_db(db, read_only=True) as con:
        labelled = {d.id: d.label for d in labelled_documents(con)}
    assert labelled == {"a6": "not_relevant", "a2": "ambiguous"}  # labels of unknown articles are skipped


def test_retrain_reclassify_cycle(db, capsys):
    assert run("reclassify", "--db", str(db)) == 0
    base = base_model().version
    assert f"reclassified {len(ARTICLES)} articles with {base}" in capsys.readouterr().out

    label(db, ("a1", "relevant"), ("a5", "not_relevant"), ("a6", "not_relevant"), ("a3", "ambiguous"))
    assert run("retrain", "--db", str(db), "--dry-run") == 0
    assert "not stored" in capsys.readouterr().out
    with open_db(db, read_only=True) as con:
        assert newest_model_from(con) is None

    assert run("retrain", "--db", str(db), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    new = summary["new_version"]
    assert new.startswith("r1-") and summary["parent_version"] == base and summary["stored"]
    assert summary["labels"] == {"relevant": 1, "not_relevant": 2, "ambiguous": 1}
    assert {"project set", "labelled articles"} <= set(summary)
    assert load_model(db).version == new

    assert run("reclassify", "--db", str(db)) == 0
    assert f"reclassified {len(ARTICLES)} articles with {new}" in capsys.readouterr().out
    assert run("reclassify", "--db", str(db)) == 0  # nothing left for this version
    assert "reclassified 0 articles" in capsys.readouterr().out
    assert run("reclassify", "--db", str(db), "--all") == 0
    assert f"reclassified {len(ARTICLES)} articles" in capsys.readouterr().out

    with open_db(db, read_only=True) as con:
        versions = con.execute(
            "select model_version, count(*) from classifications group by 1 order by 1"
        ).fetchall()
        stored = con.execute("select parent_version, params, metrics from models").fetchone()
        departments, primary, district = con.execute(
            "select departments, primary_department, district from classifications"
            " where article_id = 'a1' and model_version = ?",
            [new],
        ).fetchone()
    assert versions == sorted([(base, len(ARTICLES)), (new, len(ARTICLES))])  # old decisions kept
    assert stored[0] == base
    params = json.loads(stored[1])
    assert params["training"]["documents"]["analyst"] == 3  # the ambiguous label is not trained on
    assert json.loads(stored[2])["labels"]["ambiguous"] == 1
    assert departments == ["1501"] and primary == "1501" and district == "150110"
    assert (db.parent / "vigia.analyst.duckdb").exists()  # analysts see the new decisions


def test_labels_teach_the_model(db):
    """An article the model gets wrong moves towards the analysts' label once retrained on it."""
    from pipeline.classify.retrain import retrain

    before = load_model(db).classify(ARTICLES[5][1], ARTICLES[5][2]).score
    with open_db(db, lock_timeout=10) as con:
        for n in range(8):  # analysts label a handful of such stories
            con.execute(
                "insert into articles (article_id, feed, title, text, fetched_at, extraction_status,"
                " entry_hash, content_hash, first_seen_at, updated_at)"
                " values (?, 'test', ?, ?, now(), 'ok', 'e', 'c', now(), now())",
                [f"m{n}", f"Informal miners protest in region {n}", ARTICLES[5][2]],
            )
            con.execute("insert into labels (article_id, label) values (?, 'not_relevant')", [f"m{n}"])
        retrain(con)
    after = load_model(db).classify(ARTICLES[5][1], ARTICLES[5][2]).score
    assert after < before


def test_the_model_commands_keep_the_base_model_in_the_cache_beside_the_database(db):
    """Each command is a new process: the first one with a database fits the base model and keeps it
    beside the database (as a cycle does), and the next ones read it instead of fitting it again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIA_")}
    line = json.dumps({"id": 1, "title": "Extorsión", "text": "Cobran cupos a mototaxistas en Trujillo."})

    def command(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *argv, "--db", str(db)],
            input=line + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    first = command("classify")
    assert first.returncode == 0, first.stderr
    (cached,) = (db.parent / "cache").glob("base-model-*.json")
    written = cached.stat().st_mtime_ns
    again = command("reclassify")
    assert again.returncode == 0, again.stderr
    assert cached.stat().st_mtime_ns == written  # read, not rebuilt and written again
    assert json.loads(first.stdout)["model_version"] == base_model().version
