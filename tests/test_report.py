"""`python -m pipeline report`: one self-contained HTML file of a period's stories, opened in a real
headless Chromium with every network request caught (there must be none)."""

from __future__ import annotations

import html
import os
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import duckdb
import pytest

from pipeline.cli import main
from pipeline.demo import LoopbackServer
from pipeline.publish import report
from tests.test_views import LIMA_OFFSET, Item, Newsroom, daily_history, prose

TOPICS = ["extortion", "homicide", "organized_crime", "illegal_mining", "drug_trafficking", "prisons"]
PLACES = [
    "1501",
    "07",
    "13",
    "20",
    "14",
    "04",
    "08",
    "25",
    "16",
    "21",
    "22",
    "23",
    "24",
    "02",
    "11",
    "12",
    "06",
]
OUTLETS = ["rpp", "andina", "elcomercio", "larepublica", "correo"]


def month_of_news(offset: int, published: datetime) -> list[Item]:
    """A few stories a day over varied topics and places; extortion in La Libertad bursts today."""
    rng = random.Random(offset)
    count = rng.randint(2, 6)
    items = []
    for k in range(count):
        topic = rng.choice(TOPICS)
        place = rng.choice(PLACES[:4]) if rng.random() < 0.6 else rng.choice(PLACES)
        items.append(
            Item(
                rng.choice(OUTLETS),
                f"Nota {k} del día {offset}: {topic} en {place}",
                prose(offset * 50 + k),
                published,
                topics=(topic,),
                places=(place,),
            )
        )
    if offset == 0:
        items += [
            Item(
                OUTLETS[k % len(OUTLETS)],
                f"Ola de extorsiones en Trujillo, caso {k}",
                prose(9000 + k),
                published,
                topics=("extortion",),
                places=("13",),
            )
            for k in range(9)
        ]
    return items


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    room = Newsroom(directory / "vigia.duckdb")
    daily_history(room, 35, month_of_news, datetime.now(UTC))
    return room


def test_the_report_holds_the_period_and_the_previous_one(month, tmp_path):
    today = (datetime.now(UTC) + LIMA_OFFSET).date()
    with duckdb.connect(str(month.db), read_only=True) as con:
        start, end = report.period(con, None, None)
        data = report.collect(con, start, end)
        path = report.write_report(con, tmp_path)
    assert (start, end) == (today - timedelta(days=29), today) and len(data.days) == 30
    assert data.previous_end == start - timedelta(days=1) and len(data.previous_per_day) == 30
    assert data.stories > 60 and sum(data.previous_per_day) > 0  # 35 days of history: the previous is partial
    assert next(iter(data.topic_totals)) == "extortion" and data.by_topic["extortion"][-1] >= 9
    assert data.department_totals["13"][0] == "La Libertad"
    assert ("topic", "extortion") in {(s[1], s[2]) for s in data.spikes}
    assert all(len(stories) <= report.TOP_STORIES for stories in data.top_stories.values())
    page = path.read_text(encoding="utf-8")
    assert (
        '<html lang="es">' in page
        and "Mapa: historias por departamento" in page
        and "Extorsión y cobro" in page
    )
    assert "La Libertad" in page and 'href="https://www.' in page
    assert page.count('class="department"') == 25
    # Self-contained: plotly.js is inside, no script or style is fetched from anywhere.
    assert not re.search(r"<script[^>]+src=", page) and not re.search(r"<link[^>]+href=", page)
    assert "Plotly" in page and path.stat().st_size > 3_000_000


def test_from_and_to_choose_the_period(month, tmp_path, capsys):
    copy = month.db.with_name("vigia.analyst.duckdb")
    copy.write_bytes(month.db.read_bytes())  # what a load publishes
    today = (datetime.now(UTC) + LIMA_OFFSET).date()
    first = today - timedelta(days=13)
    args = [
        "report",
        "--db",
        str(month.db),
        "--out",
        str(tmp_path / "r"),
        "--from",
        str(first),
        "--to",
        str(today),
    ]
    assert main(args) == 0
    assert "report.html" in capsys.readouterr().out
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f"del {first.day} " in page
    with duckdb.connect(str(month.db), read_only=True) as con:
        data = report.collect(con, first, today)
    assert len(data.days) == 14 and data.previous_start == first - timedelta(days=14)
    assert main([*args[:5], "--from", str(today), "--to", str(first)]) == 2
    assert "is after" in capsys.readouterr().err


def test_the_report_speaks_english_when_asked(month, tmp_path, monkeypatch):
    month.db.with_name("vigia.analyst.duckdb").write_bytes(month.db.read_bytes())
    monkeypatch.setenv("VIGIA_LANGUAGE", "en")
    assert main(["report", "--db", str(month.db), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Stories per day" in page and "Extortion" in page
    monkeypatch.setenv("VIGIA_LANGUAGE", "fr")
    assert main(["report", "--db", str(month.db), "--out", str(tmp_path)]) == 2


def test_the_report_escapes_what_it_did_not_write(month):
    with duckdb.connect(str(month.db), read_only=True) as con:
        start, end = report.period(con, None, None)
        data = report.collect(con, start, end)
    story = next(iter(data.top_stories.values()))[0]
    story.update(title="<script>alert(1)</script>", url="javascript:alert(1)", outlet_names=["<b>x</b>"])
    data.department_totals["99"] = ("<img src=x onerror=alert(1)>", 1, 0)
    text = report.page(data, datetime.now(UTC))
    assert "<script>alert(1)" not in text and html.escape("<script>alert(1)</script>") in text
    assert "javascript:alert" not in text.split("Plotly")[-1] or 'href="javascript' not in text
    assert 'href="javascript' not in text and "<img src=x" not in text and "<b>x</b>" not in text


def test_an_empty_period_says_so(tmp_path):
    room = Newsroom(tmp_path / "vigia.duckdb")
    room.load([], datetime.now(UTC))
    with duckdb.connect(str(room.db), read_only=True) as con:
        path = report.write_report(con, tmp_path / "out")
        english = report.page(report.collect(con, *report.period(con, None, None)), datetime.now(UTC), "en")
    page = path.read_text(encoding="utf-8")
    assert "No hay historias en este período." in page and "No stories in this period." in english
    assert "plotly" not in page.lower()  # no chart, so no axis at all (never a negative one)


# ---------------------------------------------------------------- in a real browser, offline


class _Recorder(BaseHTTPRequestHandler):
    """A proxy that answers nothing and remembers every request sent to it."""

    seen: list[str] = []

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _record  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _open_offline(page, tmp_path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Open ``page`` in headless Chromium, every request sent to a recorder, no name resolving."""
    _Recorder.seen = []
    with LoopbackServer("127.0.0.1", 0, _Recorder) as proxy:
        run = subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                f"--user-data-dir={tmp_path / 'profile'}",
                # every request goes to the recorder (nothing leaves the machine)
                f"--proxy-server={proxy.base}",
                "--proxy-bypass-list=<-loopback>",
                "--enable-logging=stderr",
                "--virtual-time-budget=15000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "HOME": str(tmp_path)},
        )
    return run, [r for r in _Recorder.seen if not _BROWSER_OWN.search(r)]


# Chromium's own calls (component updates, clock check, account probe), whatever page it opens:
# not the page's. A page's CDN (fonts.googleapis.com, gstatic) is not among them.
_BROWSER_OWN = re.compile(
    r"^(CONNECT|GET|POST|HEAD) (https?://)?(update\.googleapis\.com|redirector\.gvt1\.com|[a-z0-9.-]+\.gvt1\.com"
    r"|clients2\.google\.com|accounts\.google\.com|optimizationguide-pa\.googleapis\.com"
    r"|content-autofill\.googleapis\.com|safebrowsing\.googleapis\.com)[:/]"
)


needs_chromium = pytest.mark.skipif(
    _chromium() is None, reason="no chromium on this machine (scripts/ci_chromium.sh installs it)"
)


@needs_chromium
def test_the_browser_harness_catches_a_request(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!doctype html><img src="http://news.example.org/logo.png">', encoding="utf-8")
    _run, seen = _open_offline(page, tmp_path)
    assert any("news.example.org" in request for request in seen)


@needs_chromium
def test_the_report_renders_offline_in_a_headless_browser_without_a_single_request(month, tmp_path):
    with duckdb.connect(str(month.db), read_only=True) as con:
        path = report.write_report(con, tmp_path / "report")
    run, seen = _open_offline(path, tmp_path)
    dom = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    # plotly drew the three charts (each an SVG it builds at run time) and the map is there
    for chart in ("chart-per-day", "chart-by-topic", "chart-comparison"):
        assert re.search(rf'id="{chart}"[^>]*class="[^"]*js-plotly-plot', dom), chart
    assert dom.count('class="main-svg"') >= 6 and dom.count('class="department"') == 25
    assert "Uncaught" not in run.stderr
    assert seen == []
