"""The analysts' everyday questions, each answered by one of the views of issue 19, on real loads.

``Newsroom`` (tests/test_views.py) loads constructed articles through the real load path, with
decisions the test chooses, so every count below is known in advance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.test_views import LIMA_OFFSET, Item, Newsroom, _burst, lima_noon, prose, steady_lima_day


@pytest.fixture(scope="module")
def now() -> datetime:
    # Taken when the module's first test starts (not at import, which may be minutes earlier), and
    # away from Lima's midnight: the views' "today" is DuckDB's clock at query time.
    return steady_lima_day()


@pytest.fixture(scope="module")
def today(now):
    return (now + LIMA_OFFSET).date()


def _item(outlet, title, day, now, topics=("extortion",), places=("13",), relevant=True, seed=0):
    return Item(
        outlet,
        title,
        prose(seed),
        min(lima_noon(day, now), now),
        topics=topics,
        places=places,
        relevant=relevant,
    )


@pytest.fixture(scope="module")
def room(tmp_path_factory, now):
    """One first cycle that brings three weeks of history: what a new install loads."""
    newsroom = Newsroom(tmp_path_factory.mktemp("questions") / "vigia.duckdb")
    items = [
        _item("rpp", "Extorsionadores atacan bus en Trujillo", -1, now, seed=1),
        _item("andina", "Cobran cupos a mototaxistas de Trujillo", 0, now, seed=2),
        _item("andina", "Sicarios asesinan a comerciante en Piura", -2, now, ("homicide",), ("20",), seed=3),
        _item("correo", "Detienen a banda de extorsionadores en La Esperanza", -9, now, seed=4),
        _item("correo", "Selección peruana entrena en Lima", -1, now, (), (), relevant=False, seed=5),
        _item("rpp", "Tipo de cambio cierra estable", -3, now, (), (), relevant=False, seed=6),
        _item("rpp", "Robo sin lugar identificado", -20, now, ("robbery",), (), seed=7),
    ]
    newsroom.load(items, now)
    return newsroom


def test_stories_carry_department_names_and_a_primary_department(room):
    got = room.query(
        "select title, departments, department_names, primary_department, primary_department_name, url"
        " from stories order by title"
    )
    by_title = {r[0]: r[1:] for r in got}
    assert by_title["Sicarios asesinan a comerciante en Piura"][:4] == (["20"], ["Piura"], "20", "Piura")
    assert by_title["Robo sin lugar identificado"][:4] == ([], [], None, None)
    assert all(r[5].startswith("https://www.") for r in got)


def test_daily_counts_has_a_row_for_every_quiet_day(room, today):
    rows = room.query(
        "select day, stories, articles from daily_counts"
        " where topic = 'extortion' and department = 'La Libertad' order by day"
    )
    days = [r[0] for r in rows]
    assert days[0] == today - timedelta(days=20) and days[-1] == today  # the archive's whole span
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))]  # no gap
    assert sum(r[1] for r in rows) == 3 and sum(r[1] == 0 for r in rows) == len(rows) - 3
    # Stories without a department are counted too, under a null department.
    assert room.query("select sum(stories) from daily_counts where topic = 'robbery' and ubigeo is null") == [
        (1,)
    ]


def test_period_changes_compares_the_same_spans(room, today):
    (row,) = room.query(
        "select current_start, current_end, previous_start, previous_end, current_stories,"
        " previous_stories, difference, ratio from period_changes"
        " where period = '7d' and topic = 'extortion' and department = 'La Libertad'"
    )
    assert row[:4] == (
        today - timedelta(days=6),
        today,
        today - timedelta(days=13),
        today - timedelta(days=7),
    )
    assert row[4:] == (2, 1, 1, 2.0)
    (week,) = room.query(
        "select current_start, previous_start, previous_end from period_changes"
        " where period = 'week' and dimension = 'topic' and topic = 'homicide'"
        " union all select null, null, null limit 1"
    )
    monday = today - timedelta(days=today.weekday())
    if week[0] is not None:
        assert week == (monday, monday - timedelta(days=7), today - timedelta(days=7))
    topics = dict(
        room.query(
            "select topic, current_stories from period_changes where period = '30d' and dimension = 'topic'"
        )
    )
    assert topics == {"extortion": 3, "homicide": 1, "robbery": 1}


def test_outlet_coverage_says_what_each_outlet_brings(room):
    got = {
        r[0]: r[1:]
        for r in room.query(
            "select outlet, articles, relevant, relevant_share, topics, departments from outlet_coverage"
        )
    }
    assert got["rpp.pe"] == (3, 2, 0.667, ["extortion", "robbery"], ["La Libertad"])
    assert got["correo.pe"][:3] == (2, 1, 0.5)
    who = room.query(
        "select outlet from outlet_coverage where list_contains(departments, 'La Libertad') order by 1"
    )
    assert who == [("andina.pe",), ("correo.pe",), ("rpp.pe",)]


def test_volume_counts_every_article_per_day_and_outlet(room, today):
    assert room.query("select sum(articles), sum(relevant) from volume") == [(7, 5)]
    rpp = room.query("select day, articles from volume where outlet = 'rpp.pe' order by day")
    assert rpp[0] == (today - timedelta(days=20), 1) and rpp[-1][0] == today
    assert sum(n for _, n in rpp) == 3


def test_spikes_work_from_the_first_cycle(tmp_path, now, today):
    """A new install's first cycle brings four weeks of history: today's burst stands out at once."""
    room = Newsroom(tmp_path / "v.duckdb")
    outlets = ["diario", "andes", "norte", "sur"]
    items = [i for offset in range(-30, 0) for i in _burst(offset, 1, outlets, lima_noon(offset, now))]
    items += _burst(0, 8, outlets, min(lima_noon(0, now), now))
    room.load(items, now)
    got = room.query("select day, dimension, key, stories, baseline_days, baseline_ok from spikes order by 2")
    assert got == [
        (today, "department", "13", 8, 28, True),
        (today, "topic", "extortion", 8, 28, True),
    ]


def test_a_thin_first_history_is_said_to_be_too_short(tmp_path, now, today):
    """Busy feeds reach back a day: the archive's earlier days are thin, not a baseline."""
    room = Newsroom(tmp_path / "v.duckdb")
    outlets = ["diario", "andes", "norte", "sur"]
    slow = [i for offset in range(-20, -3) for i in _burst(offset, 1, ["lento"], lima_noon(offset, now))]
    recent = [i for offset in range(-3, 0) for i in _burst(offset, 4, outlets, lima_noon(offset, now))]
    burst = _burst(0, 12, outlets, min(lima_noon(0, now), now))
    room.load(slow + recent + burst, now)
    got = room.query("select dimension, baseline_days, baseline_ok from spikes where day = ?", [today])
    assert sorted(got) == [("department", 3, False), ("topic", 3, False)]
    # Shown to the analyst, never alerted.
    assert room.query("select count(*) from spikes where baseline_ok") == [(0,)]
