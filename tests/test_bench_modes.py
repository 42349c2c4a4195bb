"""Issue 20's benchmark modes (``benchmarks.run --freshness / --scale / --publication``), kept from rotting.

The scale and publication modes run whole, on a few dozen feeds and a small database. The
freshness mode runs Airflow for half an hour, too long for the suite: its parts are run here
instead (the web that publishes on a clock, the mail relay that reads digests, the figures), and
its whole run is the README's (Performance).
"""

from __future__ import annotations

import json
import math
import smtplib
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest

from benchmarks import freshness
from benchmarks.clockweb import ClockWeb, FeedPlan
from benchmarks.newsgen import story
from benchmarks.run import main
from pipeline.extract.feeds import parse_feed


def test_the_clock_web_publishes_new_items_only_once_its_clock_runs(tmp_path):
    plans = [
        FeedPlan(index=0, host=0, kind="hot", old=2, offsets=[0.3]),
        FeedPlan(index=1, host=1, kind="quiet", old=1, offsets=[3600.0]),
    ]
    with ClockWeb(hosts=2, latency_ms=[0.0, 20.0]) as web:
        web.start(plans, tmp_path)
        hot, quiet = web.feed_url(plans[0]), web.feed_url(plans[1])
        with httpx.Client(trust_env=False) as client:
            first = client.get(hot)
            assert first.status_code == 200
            entries = parse_feed(first.content, feed="clock-00", url=hot).entries
            assert [e.url for e in entries] == [web.item_url(plans[0], 1), web.item_url(plans[0], 0)]
            assert all(e.published_at is not None for e in entries)
            etag = first.headers["etag"]
            assert client.get(hot, headers={"If-None-Match": etag}).status_code == 304
            assert client.get(web.item_url(plans[0], 2)).status_code == 404  # not published yet

            t0 = web.start_clock()
            assert abs(t0 - time.time()) < 5
            time.sleep(0.5)
            again = client.get(hot, headers={"If-None-Match": etag})
            assert again.status_code == 200 and again.headers["etag"] != etag
            newest = parse_feed(again.content, feed="clock-00", url=hot).entries[0]
            assert newest.url == web.item_url(plans[0], 2)
            page = client.get(newest.url)
            assert page.status_code == 200 and story(0, 2).title.encode() in page.content
            quiet_etag = client.get(quiet).headers["etag"]
            assert client.get(quiet, headers={"If-None-Match": quiet_etag}).status_code == 304
        assert web.stats() == {"feeds": 3, "not_modified": 2, "pages": 1, "not_found": 1}


def test_made_up_stories_are_distinct_and_repeatable():
    assert story(3, 7) == story(3, 7)
    titles = {story(f, n).title for f in range(4) for n in range(50)}
    assert len(titles) == 200


def test_the_mail_relay_reads_the_items_each_digest_names():
    with freshness.MailSink() as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            for kind, body in (
                (
                    "digest",
                    "* Extorsión\n  Diario 3: http://127.0.0.3:4100/n/3/7\n  x: http://127.0.0.2:9/n/0/12",
                ),
                ("spike", "http://127.0.0.3:4100/n/1/1"),
            ):
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", kind
                message["X-Vigia-Alert"] = kind
                message.set_content(body)
                smtp.send_message(message)
        (digest,) = sink.digests()
    assert digest[1] == {(3, 7), (0, 12)} and abs(digest[0] - time.time()) < 60


def test_latency_figures_count_an_item_never_delivered_as_infinitely_late():
    figures = freshness.summary([60.0, 120.0, 30.0, None])
    assert figures["items"] == 4 and figures["delivered"] == 3
    assert figures["p50_s"] == 60.0 and math.isinf(figures["p95_s"]) and figures["mean_s"] is None
    assert freshness.percentile([float(i) for i in range(1, 21)], 0.95) == 19.0


def test_airflow_share_is_read_from_the_metadata_database_and_the_task_logs(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    due = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def at(seconds: float) -> str:
        return (due + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")

    con = sqlite3.connect(home / "airflow.db")
    con.execute(
        "create table dag_run (dag_id, run_id, run_type, run_after, queued_at, start_date, end_date, state)"
    )
    con.execute(
        "create table task_instance (dag_id, run_id, task_id, map_index, try_number, state, scheduled_dttm,"
        " queued_dttm, start_date, end_date)"
    )
    con.execute(
        "insert into dag_run values ('vigia_ingest', 'r1', 'scheduled', ?, ?, ?, ?, 'success')",
        [at(0), at(1), at(2), at(40)],
    )
    # plan 5-10 s, collect 12-30 s, load 31-40 s; each task's code starts 3 s after the task and
    # ends 1 s before it.
    for task, start, end in (("plan", 5, 10), ("collect", 12, 30), ("load", 31, 40)):
        mapped = 0 if task == "collect" else -1
        con.execute(
            "insert into task_instance values ('vigia_ingest', 'r1', ?, ?, 1, 'success', ?, ?, ?, ?)",
            [task, mapped, at(start - 2), at(start - 1), at(start), at(end)],
        )
        log = home / "logs" / "dag_id=vigia_ingest" / "run_id=r1" / f"task_id={task}"
        log = log / ("map_index=0" if mapped == 0 else "") / "attempt=1.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        stamps = [
            (start, "::group::Pre Execute"),
            (start + 3, "Worker startup parse complete"),
            (end - 1, "::group::Post Execute"),
            (end, "::endgroup::"),
        ]
        log.write_text(
            "\n".join(
                json.dumps({"timestamp": (due + timedelta(seconds=s)).isoformat(), "event": e})
                for s, e in stamps
            )
        )
    con.commit()
    con.close()
    share = freshness.airflow_share(home, tmp_path / "none.duckdb")
    (run,) = share["runs"]
    f = run["figures"]
    assert f["due_to_first_task_start_s"] == pytest.approx(5)
    assert f["due_to_last_task_end_s"] == pytest.approx(40)
    assert f["task_startup_s"] == pytest.approx(9) and f["task_wind_down_s"] == pytest.approx(3)
    assert f["gaps_between_tasks_s"] == pytest.approx(3)
    assert f["task_code_s"] == pytest.approx(40 - 5 - 3 - 9 - 3)
    assert f["airflow_s"] == pytest.approx(40 - f["task_code_s"])


def test_scale_mode_measures_unchanged_cycles_and_httpx_alone(tmp_path, capsys):
    assert main(["--scale", "64", "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("*.json")
    r = json.loads(written.read_text(encoding="utf-8"))
    assert r["first_cycle"]["outcomes"] == {"ok": 64} and r["first_cycle"]["articles"] > 0
    assert r["unchanged_304"]["outcomes"] == {"not_modified": 64}
    assert r["unchanged_200"]["outcomes"] == {"ok": 64} and r["unchanged_200"]["articles"] == 0
    for key in ("unchanged_304", "unchanged_200"):
        stages = r[key]["stages"]
        # feeds.toml unchanged since the first cycle's load: read, not parsed; the plan reads the feeds table
        assert set(stages["plan"]["steps_s"]) == {"read_registry", "planned_feeds"}
        assert {"_load_feed_states", "_load_fetches", "publish"} <= set(stages["load"]["steps_s"])
        assert "parse_registry" not in stages["load"]["steps_s"]
        assert r[key]["cpu_ms_per_feed"] > 0 and r[key]["server"]["peak_open_host"] <= 2  # politeness
        assert r[f"cli_{key}"]["exit"] == 0 and r[f"cli_{key}"]["feeds_asked"] == 64
        assert r[f"cli_{key}"]["peak_rss_mb"] > 0
    assert r["first_cycle"]["fetches_rows_added"] == 64
    assert r["unchanged_304_first"]["fetches_rows_added"] == 64  # the first 304 after a 200 is a change
    assert r["unchanged_304"]["fetches_rows_added"] == 0  # then nothing changed: nothing logged
    assert r["unchanged_200"]["fetches_rows_added"] == 64
    assert r["httpx_alone"]["statuses"] == {"304": 64} and r["httpx_alone"]["cpu_ms_per_request"] > 0
    assert r["ratios"]["304"]["cpu_vs_httpx_alone"] > 0
    assert "httpx alone, same conditional GETs" in capsys.readouterr().out


def digest_equal(a, b) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_publication_mode_times_each_step_and_counts_the_blocks_a_load_changes(tmp_path, capsys):
    from pipeline import store
    from pipeline.settings import Settings
    from pipeline.store import publication

    db = tmp_path / "bench" / "publication-1000.duckdb"  # there already: the builder is not run
    # Each article its own words: the same text in all of them would make every new article a
    # near-duplicate of every other (millions of story candidates, minutes of the suite), which no
    # archive holds. Each load still copies 500 recent texts, so text matches are made.
    now = datetime.now(UTC)
    with store.open_db(db) as con:
        con.execute(
            "insert into feeds (name, url, configured_url, enabled, added_at)"
            " select 'f' || i, 'https://x.pe/' || i, 'https://x.pe/' || i, true, ? from range(10) t(i)",
            [now],
        )
        con.execute(
            "insert into articles (article_id, url, feed, title, text, fetched_at, extraction_status,"
            " entry_hash, content_hash, first_seen_at, updated_at)"
            " select 'a' || i, 'https://x.pe/a/' || i, 'f' || (i % 10), 'Extorsión en Lima ' || i,"
            " 'Los extorsionadores atacaron un bus en Lima. ' || (select string_agg(md5(i || '.' || k), ' ')"
            " from range(40) w(k)), ?, 'ok', 'e', 'c' || i, ?, ?"
            " from range(1000) t(i)",
            [now, now - timedelta(hours=1), now],
        )
        con.execute("checkpoint")
    assert main(["--publication", "--articles", "1000", "--db", str(db.parent), "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("*.json")
    (size,) = json.loads(written.read_text(encoding="utf-8"))["sizes"]
    assert size["articles"] == 1000 and size["whole"]["copy_s"] > 0 and not size["whole"]["patched"]
    rounds = size["rounds"]
    assert len(rounds) == 3 + 1 + 3 and not rounds[0]["patched"], "copied whole until the spare exists"
    patched = [r for r in rounds if r["patched"]]
    assert len(patched) >= 3 and all(0 < r["blocks_written"] < r["file_blocks"] for r in patched)
    assert rounds[-1]["patched"] and rounds[-1]["whole_check"] and not rounds[-2]["whole_check"]
    assert size["median"]["patch_s"] > 0 and size["median"]["copy_s"] == 0
    settings = Settings.from_env(env={}, db_path=db)
    assert len(publication.snapshots(settings)) <= settings.snapshots
    publication.verify(settings.analyst_db)
    assert "blocks written" in capsys.readouterr().out
    assert digest_equal(db, settings.analyst_db)
