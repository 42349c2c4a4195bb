"""Whole cycles against hostile timing and floods, on 127.0.0.1: slow is not dead, a flood waits
its turn, nothing is lost or stored twice, and the run's counts say exactly what happened."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import duckdb

from pipeline import cli
from pipeline import tasks as ingest
from pipeline.alerts import detect
from tests.conftest import make_settings
from tests.localweb import LocalWeb, Route, sample_feeds_toml


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>http://t.example/</link>{items}</channel></rss>"
    ).encode()


def item(n: int, link: str | None = None, title: str | None = None) -> str:
    link_tag = f"<link>{link}</link>" if link else ""
    return (
        f"<item><title>{title or f'Noticia {n}'}</title>{link_tag}<guid isPermaLink='false'>g-{n}</guid>"
        f"<description>Resumen de la noticia {n} sobre extorsión en Lima.</description></item>"
    )


PAGE = (
    "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
    "<p>La policía detuvo a una banda de extorsionadores que cobraba cupos a los transportistas del distrito"
    " de San Juan de Lurigancho, informó la fiscalía el martes.</p><p>{extra}</p></article></body></html>"
)


def page(title: str, extra: str = "Las investigaciones continúan.") -> bytes:
    return PAGE.format(t=title, extra=extra).encode()


def slow(body: bytes, seconds: float):
    def handler(h) -> None:
        time.sleep(seconds)
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


# ---------------------------------------------------------------- one site's input cannot stop a cycle


IMPOSSIBLE_PORTS = ["99999", "-1", "65536", "0", "8o"]


def test_a_redirect_to_an_impossible_port_is_recorded_and_the_other_feeds_load(tmp_path, sample_web):
    # One poisoned feed and one poisoned page for each port, in one registry with the sample outlets.
    toml = sample_feeds_toml(sample_web.base)
    items = []
    for k, port in enumerate(IMPOSSIBLE_PORTS):
        poison = f"http://127.0.0.1:{port}/x"
        sample_web.routes[f"/poison-{k}.xml"] = Route(status=301, headers={"Location": poison}, etag=False)
        sample_web.routes[f"/p/poison-{k}.html"] = Route(status=302, headers={"Location": poison}, etag=False)
        items.append(item(k + 1, sample_web.url(f"/p/poison-{k}.html")))
        toml += f'[[feed]]\nname = "poison-{k}"\nurl = "{sample_web.url(f"/poison-{k}.xml")}"\n\n'
    sample_web.routes["/items.xml"] = Route(body=rss("".join(items)))
    toml += f'[[feed]]\nname = "items"\nurl = "{sample_web.url("/items.xml")}"\n'
    settings = make_settings(tmp_path, toml)
    poisoned = len(IMPOSSIBLE_PORTS)
    for _cycle in range(2):  # the bad items are recorded: the next cycle does not die on them either
        summary = ingest.run_once(settings)
        assert summary.feeds_ok == 5 and summary.feeds_failed == poisoned
    outcomes = query(settings, "select feed, outcome from fetches where feed like 'poison-%'")
    assert sorted(outcomes) == sorted([(f"poison-{k}", "redirect_error") for k in range(poisoned)] * 2)
    items_outcomes = query(settings, "select outcome from fetches where feed = 'items'")
    assert sorted(o for (o,) in items_outcomes) == ["not_modified", "ok"]
    assert query(settings, "select count(*) from articles where extraction_status = 'ok'") == [(12,)]
    pages = query(
        settings, "select url, extraction_status, extraction_error from articles where feed = 'items'"
    )
    assert len(pages) == poisoned
    for url, status, error in pages:
        assert status == "redirect_error" and "unusable" in error, url


# ---------------------------------------------------------------- slow is not dead


def test_waiting_for_a_slow_hosts_slots_never_times_a_page_out(tmp_path):
    # 12 pages on one host answering each in 0.4 s, two at a time: the last waits ~2 s for a slot.
    # A 1.5 s page deadline once counted that wait and failed most of them as timeouts.
    with LocalWeb() as web:
        links = [web.url(f"/p/{n}.html") for n in range(12)]
        web.routes["/feed.xml"] = Route(body=rss("".join(item(n, link) for n, link in enumerate(links))))
        for n in range(12):
            web.routes[f"/p/{n}.html"] = Route(handler=slow(page(f"Nota {n}"), 0.4))
        settings = make_settings(
            tmp_path, f'[[feed]]\nname = "lento"\nurl = "{web.url("/feed.xml")}"\n', page_deadline=1.5
        )
        summary = ingest.run_once(settings)
    assert summary.new_articles == 12
    assert query(settings, "select extraction_status, count(*) from articles group by 1") == [("ok", 12)]


def test_pages_not_asked_when_the_cycles_time_is_up_wait_for_the_next_cycle_with_their_attempts(tmp_path):
    # One slot for the host, 0.6 s a page, 1 s for the cycle: two or three pages are asked, the rest
    # wait in the backlog, not failed. The feed answers 304 afterwards: the backlog brings them back.
    with LocalWeb() as web:
        links = [web.url(f"/p/{n}.html") for n in range(8)]
        web.routes["/feed.xml"] = Route(body=rss("".join(item(n, link) for n, link in enumerate(links))))
        for n in range(8):
            web.routes[f"/p/{n}.html"] = Route(handler=slow(page(f"Nota {n}"), 0.6))
        settings = make_settings(
            tmp_path,
            f'[[feed]]\nname = "lento"\nurl = "{web.url("/feed.xml")}"\n',
            per_host_concurrency=1,
            collect_budget=1.0,
        )
        first = ingest.run_once(settings)
        assert 1 <= first.new_articles < 8 and first.new_articles + first.waiting_entries == 8
        waiting = query(settings, "select reason, count(*) from entry_backlog group by 1")
        assert waiting == [("cycle_time", 8 - first.new_articles)]
        cycles = 1
        while query(settings, "select count(*) from entry_backlog")[0][0] and cycles < 12:
            ingest.run_once(settings)
            cycles += 1
        feed_outcomes = {o for (o,) in query(settings, "select outcome from fetches")}
        assert "not_modified" in feed_outcomes  # later cycles got nothing from the feed itself
        rows = query(
            settings, "select extraction_status, extraction_attempts, count(*) from articles group by 1, 2"
        )
        assert rows == [("ok", 1, 8)]  # every page asked exactly once: nothing failed, nothing lost
        assert all(web.hits(f"/p/{n}.html") == 1 for n in range(8))
    runs = query(settings, "select sum(new_articles), sum(retried_articles) from runs")
    assert runs == [(8, 0)]


def test_a_host_that_asks_pages_to_wait_puts_them_off_without_counting_an_attempt(tmp_path):
    with LocalWeb() as feeds, LocalWeb() as pages:
        # The first page asked gets 429 with Retry-After: the host's other pages are not asked.
        gate = threading.Lock()
        state = {"first": True}

        def busy_once(h) -> None:
            with gate:
                first, state["first"] = state["first"], False
            body = page("Nota")
            if first:
                h.send_response(429)
                h.send_header("Retry-After", "120")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(200)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Content-Type", "text/html")
            h.end_headers()
            h.wfile.write(body)

        links = [pages.url(f"/p/{n}.html") for n in range(4)]
        feeds.routes["/feed.xml"] = Route(body=rss("".join(item(n, link) for n, link in enumerate(links))))
        for n in range(4):
            pages.routes[f"/p/{n}.html"] = Route(handler=busy_once)
        settings = make_settings(
            tmp_path, f'[[feed]]\nname = "f"\nurl = "{feeds.url("/feed.xml")}"\n', per_host_concurrency=1
        )
        first = ingest.run_once(settings)
        assert (first.new_articles, first.waiting_entries) == (1, 3)
        assert query(settings, "select extraction_status, extraction_attempts from articles") == [
            ("rate_limited", 1)
        ]
        assert query(settings, "select reason, count(*) from entry_backlog group by 1") == [("host_wait", 3)]
        second = ingest.run_once(settings)  # a new cycle: the host is asked again
    assert (second.new_articles, second.retried_articles, second.waiting_entries) == (3, 0, 0)
    assert query(settings, "select count(*), count(distinct article_id) from articles") == [(4, 4)]
    assert query(settings, "select count(*) from entry_backlog") == [(0,)]


# ---------------------------------------------------------------- floods


def test_a_flood_is_taken_500_at_a_time_in_order_and_nothing_is_lost_or_doubled(tmp_path, sample_web):
    items = "".join(item(n) for n in range(1, 1301))  # items without links: no page to download
    sample_web.routes["/flood.xml"] = Route(body=rss(items))
    toml = (
        sample_feeds_toml(sample_web.base)
        + f'[[feed]]\nname = "flood"\nurl = "{sample_web.url("/flood.xml")}"\n'
    )
    settings = make_settings(tmp_path, toml)
    first = ingest.run_once(settings)
    assert (first.new_articles, first.waiting_entries) == (12 + 500, 800)
    assert query(settings, "select count(*) from articles where feed = 'flood'") == [(500,)]
    # The feed's first 500 items are in, in its order; the rest wait, oldest first.
    titles = {t for (t,) in query(settings, "select title from articles where feed = 'flood'")}
    assert titles == {f"Noticia {n}" for n in range(1, 501)}
    second = ingest.run_once(settings)  # the feed answers 304: the backlog alone feeds this cycle
    assert (second.new_articles, second.waiting_entries) == (500, 300)
    third = ingest.run_once(settings)
    assert (third.new_articles, third.waiting_entries) == (300, 0)
    assert query(settings, "select count(*), count(distinct guid) from articles where feed = 'flood'") == [
        (1300, 1300)
    ]
    assert query(settings, "select count(*) from entry_backlog") == [(0,)]
    assert query(settings, "select count(*) from article_sources where feed = 'flood'") == [(1300,)]
    runs = query(settings, "select new_articles, waiting_entries from runs order by started_at")
    assert runs == [(512, 800), (500, 300), (300, 0)]
    assert ingest.run_once(settings).new_articles == 0


def test_the_flood_limit_is_a_setting_and_counts_new_articles_only(tmp_path):
    with LocalWeb() as web:
        links = [web.url(f"/p/{n}.html") for n in range(6)]
        web.routes["/feed.xml"] = Route(
            body=rss("".join(item(n, link) for n, link in enumerate(links))), etag=False
        )
        for n in range(6):
            web.routes[f"/p/{n}.html"] = Route(body=page(f"Nota {n}"))
        web.routes["/p/0.html"] = Route(body=b"oops", status=500, etag=False)
        settings = make_settings(
            tmp_path, f'[[feed]]\nname = "f"\nurl = "{web.url("/feed.xml")}"\n', max_new_per_feed=2
        )
        first = ingest.run_once(settings)
        assert (first.new_articles, first.waiting_entries) == (2, 4)
        web.routes["/p/0.html"] = Route(body=page("Nota 0"))
        second = ingest.run_once(settings)  # the failed page is retried beyond the limit: it is not new
        assert (second.new_articles, second.retried_articles, second.waiting_entries) == (2, 1, 2)
        third = ingest.run_once(settings)
    assert (third.new_articles, third.retried_articles, third.waiting_entries) == (2, 0, 0)
    assert query(settings, "select extraction_status, count(*) from articles group by 1") == [("ok", 6)]
    assert query(settings, "select sum(new_articles), sum(retried_articles) from runs") == [(6, 1)]


def test_an_article_changed_every_cycle_keeps_at_most_m_revisions_a_day(tmp_path):
    with LocalWeb() as web:
        link = web.url("/p/1.html")

        def serve(version: int) -> None:
            web.routes["/feed.xml"] = Route(body=rss(item(1, link, title=f"Nota v{version}")))
            web.routes["/p/1.html"] = Route(body=page(f"Nota v{version}", extra=f"Versión {version}."))

        serve(0)
        settings = make_settings(
            tmp_path, f'[[feed]]\nname = "f"\nurl = "{web.url("/feed.xml")}"\n', max_revisions_per_day=2
        )
        assert ingest.run_once(settings).new_articles == 1
        summaries = []
        for version in range(1, 5):
            serve(version)
            summaries.append(ingest.run_once(settings))
        assert [(s.updated_articles, s.revisions_held) for s in summaries] == [(1, 0), (1, 0), (0, 1), (0, 1)]
        assert query(settings, "select count(*) from article_revisions") == [(2,)]
        ((title, revision),) = query(settings, "select title, revision from articles")
        assert (title, revision) == ("Nota v2", 3)  # held changes left the article as it was
        assert query(settings, "select sum(revisions_held), sum(updated_articles) from runs") == [(2, 2)]
        # A day later the latest change goes in, when the feed lists it again (a full GET at the latest).
        with duckdb.connect(str(settings.db_path)) as con:
            con.execute("update article_revisions set replaced_at = replaced_at - interval 25 hour")
            con.execute("update feeds set last_full_fetch_at = last_full_fetch_at - interval 25 hour")
        later = ingest.run_once(settings)
    assert (later.updated_articles, later.revisions_held) == (1, 0)
    assert query(settings, "select title, revision from articles") == [("Nota v4", 4)]


# ---------------------------------------------------------------- a parked feed


def test_a_retry_after_in_the_year_9999_parks_the_feed_for_a_week_at_most_and_it_is_quiet(
    tmp_path, sample_web
):
    with LocalWeb() as busy:  # a host of its own: a Retry-After holds back every feed of its host
        busy.routes["/parked.xml"] = Route(
            status=503, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, etag=False
        )
        toml = sample_feeds_toml(sample_web.base)
        toml += f'[[feed]]\nname = "parked"\nurl = "{busy.url("/parked.xml")}"\n'
        settings = make_settings(tmp_path, toml)
        ingest.run_once(settings)
        ((until,),) = query(settings, "select next_fetch_at from feeds where name = 'parked'")
        assert timedelta(days=6) < until - datetime.now(UTC) <= timedelta(days=7)
        # Counted by the quiet-feed alert although it failed only once and has no rhythm yet.
        with duckdb.connect(str(settings.db_path)) as con:
            changes = detect.feed_changes(con, settings, datetime.now(UTC))
        assert [(c.feed, c.change) for c in changes] == [("parked", "quiet")]
        assert "parked until" in changes[0].reason and "HTTP 503" in changes[0].reason
        # A wait stored by an older version (9999-12-31) is not believed: the feed is probed now.
        with duckdb.connect(str(settings.db_path)) as con:
            con.execute("update feeds set next_fetch_at = '9999-12-31 23:59:59+00' where name = 'parked'")
        hits = busy.hits("/parked.xml")
        ingest.run_once(settings)
        assert busy.hits("/parked.xml") == hits + 1


def test_the_cli_summary_line_has_the_exact_counts(tmp_path, sample_web, capsys, monkeypatch):
    toml = sample_feeds_toml(sample_web.base)
    (tmp_path / "feeds.toml").write_text(toml, encoding="utf-8")
    monkeypatch.setenv("VIGIA_ALLOW_NETWORKS", "127.0.0.1/32")
    args = ["run", "--feeds", str(tmp_path / "feeds.toml"), "--db", str(tmp_path / "v.duckdb")]
    assert cli.main(args) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert "articles 12 new, 0 revised, 0 retried; 0 waiting for later cycles" in line
