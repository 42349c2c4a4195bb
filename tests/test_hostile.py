"""A cycle over a web of hostile sites mixed with good ones (all on loopback).

Every good article must be loaded, every bad case recorded with the right outcome, the cycle
must finish within a bound, no request may reach an address outside the allowed networks, and
the whole run (main process and workers) must stay under 1 GB of memory.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time

import duckdb
import psutil
import pytest

from pipeline import tasks as ingest
from tests.conftest import make_settings
from tests.localweb import LocalWeb, Route, sample_feeds_toml


def rss(items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostil</title>
<link>http://hostil.example/</link>{items}</channel></rss>""".encode()


def item(title: str, link: str | None = None, guid: str | None = None, date: str | None = None) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    parts.append(f"<description>Resumen de {title}</description>")
    return "<item>" + "".join(parts) + "</item>"


ARTICLE = (
    "<html><head><meta charset='{charset}'><title>{title}</title></head><body><nav>Inicio | Política</nav>"
    "<article><h1>{title}</h1><p>{body}</p><p>{body}</p></article><footer>Pie de página</footer></body></html>"
)
BODY = (
    "Señor Ñandú denunció a la banda de extorsionadores que cobraba cupos a los transportistas del distrito."
)


def laughs() -> bytes:
    entities = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    return (
        f'<?xml version="1.0"?> <!DOCTYPE rss [<!ENTITY l0 "ja">{entities}]>'
        '<rss version="2.0"><channel><title>&l9;</title><item><title>x</title></item></channel></rss>'
    ).encode()


def slow_author() -> bytes:
    # feedparser's <author> parsing is quadratic (issue 562): 64 KB takes far longer than the parse limit.
    return rss(f"<item><title>a</title><author>{'x' * 64_000}</author></item>")


def big_table() -> bytes:
    rows = "".join(f"<tr><td>{i}</td><td>celda {i}</td></tr>" for i in range(150_000))
    return f"<html><body><article><p>{BODY}</p><table>{rows}</table></article></body></html>".encode()


@pytest.fixture
def hostile_web():
    with LocalWeb() as web, LocalWeb() as busy, LocalWeb(host="127.0.0.2") as outside:
        # Retry-After holds back a whole host, so the busy feed lives on a host (port) of its own.
        busy.routes["/busy.xml"] = Route(status=429, headers={"Retry-After": "3600"}, etag=False)
        busy.routes["/other.xml"] = Route(body=rss(item("otro", "/p/x.html")))
        outside.routes["/x"] = Route(body=b"should never be asked")
        page = lambda **kw: Route(body=ARTICLE.format(**kw).encode(kw.get("charset", "utf-8")))  # noqa: E731
        port = web.base.rsplit(":", 1)[1]
        routes = {
            # A corrupt body is the body's fault (decode_error), not the connection's.
            "/badgzip.xml": Route(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}),
            # The redirect that once stopped every cycle (ValueError: Port out of range).
            "/poison.xml": Route(status=301, headers={"Location": "http://127.0.0.1:99999/x"}, etag=False),
            "/bomb.xml": Route(
                body=gzip.compress(b"\0" * (32 << 20)),
                gzip=False,
                headers={"Content-Encoding": "gzip"},
                content_type="application/rss+xml",
            ),
            "/drip.xml": Route(body=rss(item("lento", "/p/ok1.html")), drip_seconds=0.5),
            "/loop-a.xml": Route(status=302, headers={"Location": "/loop-b.xml"}, etag=False),
            "/loop-b.xml": Route(status=302, headers={"Location": "/loop-a.xml"}, etag=False),
            "/inward.xml": Route(status=301, headers={"Location": f"{outside.base}/x"}, etag=False),
            "/html.xml": Route(
                body=b"<!DOCTYPE html><html><body><h1>Portada</h1></body></html>",
                content_type="application/rss+xml",
            ),
            "/laughs.xml": Route(body=laughs()),
            "/author.xml": Route(body=slow_author()),
            "/gone.xml": Route(status=410, etag=False),
            "/items.xml": Route(
                body=rss(
                    "".join(
                        [
                            item("ok utf8", "/p/ok1.html"),
                            item("ok cp1252", "/p/latin.html"),
                            item("demasiado grande", "/p/huge.html"),
                            item("goteo", "/p/drip.html"),
                            item("bomba", "/p/bomb.html"),
                            item("tabla enorme", "/p/table.html"),
                            item("no existe", "/p/missing.html"),
                            item("hacia adentro", "/p/inward.html"),
                            item("javascript", "javascript:alert(1)"),
                            item("archivo", "file:///etc/passwd"),
                            item("sin enlace ni guid"),
                            item("guid repetido", guid="dup"),
                            item("guid repetido", guid="dup"),
                            item("fecha imposible", "/p/ok2.html", date="Mon, 30 Feb 2025 10:00:00 GMT"),
                            item("fecha futura", "/p/ok3.html", date="Fri, 31 Dec 9999 23:59:59 GMT"),
                            item("gzip roto", "/p/badgzip.html"),
                            # Loopback is allowed here: these forms are blocked for what they are.
                            item("octal", f"http://0177.0.0.1:{port}/p/ok1.html"),
                            item("decimal", f"http://2130706433:{port}/p/ok1.html"),
                            item("puerto imposible", "http://127.0.0.1:99999/p/ok1.html"),
                            item("redirige a ninguna parte", "/p/poison.html"),
                        ]
                    )
                )
            ),
            "/p/ok1.html": page(title="Uno", body=BODY, charset="utf-8"),
            "/p/ok2.html": page(title="Dos", body=BODY, charset="utf-8"),
            "/p/ok3.html": page(title="Tres", body=BODY, charset="utf-8"),
            "/p/latin.html": page(title="Latin", body=BODY, charset="windows-1252"),
            "/p/huge.html": Route(body=b"<html><body>" + b"<p>relleno</p>" * 700_000 + b"</body></html>"),
            "/p/drip.html": Route(
                body=ARTICLE.format(title="Goteo", body=BODY, charset="utf-8").encode(), drip_seconds=0.5
            ),
            "/p/bomb.html": Route(
                body=gzip.compress(b" " * (64 << 20)), headers={"Content-Encoding": "gzip"}
            ),
            "/p/table.html": Route(body=big_table()),
            "/p/inward.html": Route(status=302, headers={"Location": f"{outside.base}/x"}, etag=False),
            "/p/badgzip.html": Route(body=b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"}),
            "/p/poison.html": Route(status=302, headers={"Location": "http://127.0.0.1:-1/x"}, etag=False),
        }
        web.routes.update(routes)
        yield web, busy, outside


class PeakMemory:
    """Samples the RSS of this process and all its children (the extraction workers).

    ``growth`` is the peak above what this process held when sampling began: the test process of a
    whole suite already holds Airflow, the classifier's tables and much else, none of it the cycle's.
    """

    def __init__(self) -> None:
        self.peak = 0
        self.start = psutil.Process().memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def test_hostile_web_is_recorded_and_survived(tmp_path, hostile_web, sample_web):
    web, busy, outside = hostile_web
    hostile = [
        "bomb",
        "drip",
        "loop-a",
        "inward",
        "html",
        "laughs",
        "author",
        "gone",
        "items",
        "badgzip",
        "poison",
    ]
    toml = sample_feeds_toml(sample_web.base) + "".join(
        f'[[feed]]\nname = "{n}"\nurl = "{web.url(f"/{n}.xml")}"\n\n' for n in hostile
    )
    toml += f'[[feed]]\nname = "busy"\nurl = "{busy.url("/busy.xml")}"\n\n'
    toml += f'[[feed]]\nname = "busy-other"\nurl = "{busy.url("/other.xml")}"\n\n'
    settings = make_settings(
        tmp_path,
        toml,
        feed_max_bytes=2 << 20,
        page_max_bytes=8 << 20,
        feed_deadline=3.0,
        page_deadline=3.0,
        parse_timeout=3.0,
        extract_timeout=8.0,
    )
    with PeakMemory() as memory:
        summary = ingest.run_once(settings)
    # A gzip bomb, a 50,000-item feed and a billion laughs, all at once, stay far below a gigabyte.
    assert memory.growth < 1 << 30, f"memory grew by {memory.growth / 2**20:.0f} MB"
    assert outside.requests == [], "a request reached an address outside the allowed networks"

    con = duckdb.connect(str(settings.db_path), read_only=True)
    outcomes = dict(con.execute("select feed, outcome from fetches").fetchall())
    assert outcomes == {
        "diario-sur": "ok",
        "agencia-andes": "ok",
        "noticias-norte": "ok",
        "lima-post": "ok",
        "bomb": "too_large",
        "drip": "timeout",
        "loop-a": "redirect_error",
        "inward": "blocked",
        "html": "not_a_feed",
        "laughs": "parse_error",  # an entity-expansion attack, refused before parsing
        "author": "parse_error",
        "gone": "gone",
        "badgzip": "decode_error",
        "poison": "redirect_error",
        "busy": "rate_limited",
        "items": "ok",
        "busy-other": outcomes["busy-other"],
    }
    good = con.execute(
        "select count(*) from articles where feed in "
        "('diario-sur', 'agencia-andes', 'noticias-norte', 'lima-post') and extraction_status = 'ok'"
    )
    assert good.fetchone()[0] == 12
    pages = dict(con.execute("select title, extraction_status from articles where feed = 'items'").fetchall())
    by_title = {t.split(" ")[0]: s for t, s in pages.items()}
    assert pages["Uno"] == "ok" and pages["Latin"] == "ok"
    assert pages["Dos"] == "ok" and pages["Tres"] == "ok"  # bad dates do not lose the article
    assert pages["demasiado grande"] == "too_large" and pages["goteo"] == "timeout"
    assert pages["bomba"] == "too_large" and pages["tabla enorme"] == "extract_error"
    assert pages["no existe"] == "http_error" and pages["hacia adentro"] == "blocked"
    assert pages["javascript"] == "feed_only" and pages["archivo"] == "feed_only"
    assert pages["sin enlace ni guid"] == "feed_only" and by_title["guid"] == "feed_only"
    assert pages["gzip roto"] == "decode_error"  # final: not among the outcomes retried
    assert pages["octal"] == "blocked" and pages["decimal"] == "blocked"
    assert pages["puerto imposible"] == "feed_only"  # no URL can be made of it: the feed's text
    assert pages["redirige a ninguna parte"] == "redirect_error"
    assert con.execute("select count(*) from articles where feed = 'items'").fetchone()[0] == 19
    latin = con.execute("select text from articles where title = 'Latin'").fetchone()[0]
    assert "Señor Ñandú" in latin
    dates = dict(
        con.execute("select title, published_at from articles where title in ('Dos', 'Tres')").fetchall()
    )
    assert dates == {"Dos": None, "Tres": None}
    gone, busy_next = con.execute(
        "select (select gone_at is not null from feeds where name = 'gone'),"
        " (select next_fetch_at > now() + interval 50 minute from feeds where name = 'busy')"
    ).fetchone()
    assert gone and busy_next
    con.close()
    assert summary.feeds_failed == sum(o not in ("ok", "not_modified", "deferred") for o in outcomes.values())
    # An item of the busy host's other feed waits in the backlog (its host asked to wait): not lost.
    known = "select (select count(*) from articles) + (select count(*) from entry_backlog)"
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        stored = con.execute(known).fetchone()[0]

    # Running the same cycle again changes nothing it should not; the gone feed is not asked again.
    gone_hits = web.hits("/gone.xml")
    ingest.run_once(settings)
    assert web.hits("/gone.xml") == gone_hits
    assert busy.hits("/busy.xml") == 1 and busy.hits("/other.xml") <= 1  # the whole host waits
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert con.execute(known).fetchone()[0] == stored
