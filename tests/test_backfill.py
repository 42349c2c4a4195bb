"""``python -m pipeline backfill``: stored articles downloaded again, re-extracted, reclassified."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline.backfill import backfill, select_articles
from pipeline.cli import cycle as bench_cli
from tests.localweb import SAMPLE_SITE, Route

SITE = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
ITEMS = sum(len(o["articles"]) for o in SITE["outlets"])
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def page_path(outlet: dict, article: dict) -> str:
    return f"/{outlet['slug']}/{article['slug']}.html"


def test_backfill_re_extracts_keeps_the_old_text_as_a_revision_and_reclassifies_everything(
    loaded_settings, sample_web
):
    counts = "select (select count(*) from runs), (select count(*) from fetches)"
    runs_and_fetches = query(loaded_settings, counts)[0]
    before = dict(query(loaded_settings, "select article_id, classified_at from classifications"))
    outlet = SITE["outlets"][0]
    changed, gone = outlet["articles"][0], outlet["articles"][1]
    # The outlet corrected one article since; another page is gone.
    route = sample_web.routes[page_path(outlet, changed)]
    sample_web.routes[page_path(outlet, changed)] = Route(
        body=route.body.replace(changed["paragraphs"][0].encode(), b"Texto corregido por el medio. " * 5)
    )
    sample_web.routes[page_path(outlet, gone)] = Route(status=404, body=b"gone")

    summary = backfill(loaded_settings, LONG_AGO)

    assert summary.selected == ITEMS
    assert summary.statuses == {"ok": ITEMS - 1, "http_error": 1}
    assert summary.changes["revised"] == 1 and summary.changes["keep"] == 1
    texts = dict(query(loaded_settings, "select url, text from articles"))
    corrected = next(t for u, t in texts.items() if u.endswith(f"/{changed['slug']}.html"))
    assert "Texto corregido por el medio." in corrected
    kept = next(t for u, t in texts.items() if u.endswith(f"/{gone['slug']}.html"))
    assert all(p in kept for p in gone["paragraphs"]), "a page that is gone keeps its stored text"
    (old,) = query(loaded_settings, "select text from article_revisions")
    assert changed["paragraphs"][0] in old[0]
    # Every article classified again by the current model, changed or not.
    after = dict(query(loaded_settings, "select article_id, classified_at from classifications"))
    assert set(after) == set(before) and all(after[k] > before[k] for k in before)
    # Not a cycle: no run (the freshness watchdog must not count it), no fetch rows.
    assert query(loaded_settings, counts)[0] == runs_and_fetches
    # The new text is searchable.
    hits = query(loaded_settings, "select count(*) from search('corregido')")
    assert hits[0][0] >= 1


def test_backfill_selects_by_date_and_feed(loaded_settings):
    everything = select_articles(loaded_settings, LONG_AGO)
    assert len(everything) == ITEMS
    assert select_articles(loaded_settings, datetime.now(UTC) + timedelta(days=1)) == []
    feed = SITE["outlets"][1]["slug"]
    only = select_articles(loaded_settings, LONG_AGO, feed=feed)
    assert {e.feed for e, _ in only} == {feed} and len(only) == len(SITE["outlets"][1]["articles"])
    until = select_articles(loaded_settings, LONG_AGO, until=LONG_AGO + timedelta(days=1))
    assert until == []


def test_backfill_command(loaded_settings, capsys):
    parser = argparse.ArgumentParser()
    bench_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "backfill",
            "--from",
            "2000-01-01",
            "--db",
            str(loaded_settings.db_path),
            "--feeds",
            str(loaded_settings.feeds_path),
            "--chunk",
            "5",
        ]
    )
    assert args.since == datetime(2000, 1, 1, 5, 0, tzinfo=UTC)  # midnight in Lima
    # The command builds its settings from the environment and flags; the test's network is loopback.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
        assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"backfill: {ITEMS} articles" in out and f"{ITEMS} ok" in out


def test_backfill_rejects_a_bad_date():
    with pytest.raises(argparse.ArgumentTypeError):
        bench_cli.moment("yesterday")
