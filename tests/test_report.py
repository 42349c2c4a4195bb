"""`python -m pipeline report`: a PNG and an HTML page of the last 30 days of stories."""

from __future__ import annotations

import html
import random
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipeline import report
from pipeline.cli import main
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


def test_the_report_charts_30_days_and_lists_the_spikes(month, tmp_path):
    with duckdb.connect(str(month.db), read_only=True) as con:
        data = report.collect(con, days=30)
        png, page = report.write_report(con, tmp_path, days=30)
    today = (datetime.now(UTC) + LIMA_OFFSET).date()
    assert data.days[0] == today - timedelta(days=29) and data.days[-1] == today and len(data.days) == 30
    assert data.by_topic.shape == (len(data.topics), 30) and data.by_topic.sum() > 60
    assert data.topics[0] == "extortion" and data.by_topic[0, -1] >= 9
    assert len(data.departments) <= report.MAX_DEPARTMENTS
    assert ("topic", "extortion") in {(s[1], s[2]) for s in data.spikes}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    text = page.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "Extortion" in text and "La Libertad" in text


def test_the_report_escapes_what_it_did_not_write():
    data = report.ReportData(
        days=[datetime(2025, 10, 20).date()],
        per_day=report.np.zeros(1, dtype=int),
        topics=[],
        by_topic=report.np.zeros((0, 1), dtype=int),
        departments=[],
        by_department=report.np.zeros((0, 1), dtype=int),
        spikes=[(datetime(2025, 10, 20).date(), "department", "99", "<script>x</script>", 5, 1.0, 4.2)],
    )
    text = report.page(data, b"png", datetime.now(UTC))
    assert "<script>x" not in text and html.escape("<script>x</script>") in text


def test_an_empty_database_still_gets_a_chart(tmp_path):
    room = Newsroom(tmp_path / "vigia.duckdb")
    room.load([], datetime.now(UTC))
    with duckdb.connect(str(room.db), read_only=True) as con:
        png, _page = report.write_report(con, tmp_path / "out")
    assert png.stat().st_size > 5_000


def test_cli_report_reads_the_analyst_copy(month, tmp_path, monkeypatch, capsys):
    copy = month.db.with_name("vigia.analyst.duckdb")
    copy.write_bytes(month.db.read_bytes())  # what a load publishes
    assert main(["report", "--db", str(month.db), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.png").exists() and (tmp_path / "r" / "report.html").exists()
    assert "report.png" in capsys.readouterr().out
