"""The benchmark harness (``make bench``), run in its tiny mode so that it cannot rot unnoticed.

Tiny mode generates its corpus (3 feeds, 5 pages), so this test needs nothing outside the
repository; it checks that every figure is produced and sane, not how fast anything is.
"""

from __future__ import annotations

import json

from benchmarks import corpus
from benchmarks.measure import f1
from benchmarks.run import main


def test_tiny_benchmark_produces_every_figure(tmp_path, capsys):
    assert main(["--tiny", "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("*.json")
    r = json.loads(written.read_text(encoding="utf-8"))

    first = r["first_cycle"]
    assert first["feeds"] == {"ok": 3} and first["articles"] == 12 and first["pages_extracted"] == 12
    # 12 pages: too few for the workers to classify (CLASSIFY_IN_WORKERS_FROM), so the load does.
    assert first["classified_in_workers"] == 0
    assert first["stages"]["collect"]["worker_tasks_cpu_s"]["extract"] > 0
    steps = first["stages"]["load"]["steps_s"]
    assert set(steps) >= {"_load_articles", "classify_articles", "index_articles"}
    assert r["unchanged_cycle"]["feeds"] == {"not_modified": 3}
    assert r["unchanged_cycle"]["server"]["not_modified"] == 3
    assert r["unchanged_cycle"]["articles"] == 0
    assert r["limit"]["pages"] == 12 and r["limit"]["pages_per_s"] > 0
    assert r["cron"]["extracted"] == 12 and r["cron"]["rows"] == 12
    assert r["f1"]["f1"] > 0.9 and r["f1"]["pages"] == r["limit_f1"]["pages"]
    # The backfill fetches and extracts every stored article again and finds nothing changed.
    assert r["backfill"]["selected"] == 12 and r["backfill"]["statuses"] == {"ok": 12}
    assert r["backfill"]["changes"] == {"same": 12} and r["backfill"]["pages_per_s"] > 0
    assert r["bulk_load"]["rows"] == 200 and r["bulk_load"]["articles_upsert_rows_per_s"] > 0
    assert 0 < r["peak_rss_mb"] < 4096
    for ratio in ("end_to_end_vs_limit", "end_to_end_vs_cron"):
        assert r["ratios"][ratio] > 0
    # The ceiling: the rate the cycle's CPU a page allows with every CPU busy.
    ratios = r["ratios"]
    assert ratios["cpu_ms_per_page"] == first["cpu_s"] * 1000 / first["pages_extracted"]
    assert ratios["ceiling_pages_per_s"] > 0 and ratios["end_to_end_vs_ceiling"] > 0
    assert ratios["target_vs_limit_needs_ms"] > 0 and ratios["target_vs_cron_needs_ms"] > 0
    out = capsys.readouterr().out
    assert "First cycle, end to end" in out and "Unchanged cycle" in out and str(written) in out
    assert "Backfill, every stored article" in out and "what the targets need" in out


def test_feed_links_are_rewritten_to_the_local_hosts_and_each_link_keeps_one_address():
    shared = b"<link>https://news.example/a?x=1&amp;y=2</link>"
    feeds = [
        corpus.Feed("one", b"<rss>" + shared + b"<link>http://other.example/b</link></rss>"),
        corpus.Feed("two", b"<rss><![CDATA[https://news.example/a?x=1&amp;y=2]]>" + shared + b"</rss>"),
    ]
    served = corpus.serve(corpus.Corpus("test", feeds, [], {}), ["http://127.0.0.2:1", "http://127.0.0.3:2"])
    assert served.feed_urls == ["http://127.0.0.2:1/f/0", "http://127.0.0.3:2/f/1"]
    assert served.feed_bodies[0] == (
        b"<rss><link>http://127.0.0.2:1/a/0</link><link>http://127.0.0.2:1/a/1</link></rss>"
    )
    # The same article in another feed is the same local URL (on the host of the feed that had it first).
    assert served.feed_bodies[1] == (
        b"<rss><![CDATA[http://127.0.0.2:1/a/0]]><link>http://127.0.0.2:1/a/0</link></rss>"
    )
    assert corpus.page_index("/a/6", 4) == 2 and 0 <= corpus.page_index("/relative/path", 4) < 4


def test_f1_is_the_article_extraction_benchmark_measure():
    assert f1([("one two three four five", "one two three four five")])["f1"] == 1.0
    half = f1([("a b c d e f g h", "a b c d e f g h"), ("a b c d", "w x y z")])
    assert half == {"f1": 0.5, "precision": 0.5, "recall": 0.5}
    assert f1([("a b c d e", "")])["recall"] == 0.0
