"""The report: one self-contained HTML file of a period's stories, to open in any browser, offline.

    python -m pipeline report [--from 2026-11-01] [--to 2026-11-30] [--out data/report]

What it holds, for the period (default: the last 30 Peru days) and the one of the same length
before it: a summary; stories per day against the previous period; stories per day by topic; this
period against the previous one per topic; a map of Peru by department; the period's top stories
per topic, linked to the outlets; the spikes. Charts are plotly's (hover, zoom, legend toggles),
with plotly.js inlined: opening the file sends no request anywhere. The map is SVG drawn from
``pipeline/data/peru_departments.geojson``. Both are drawn in ``charts.py``, with the digest's PNG.

Counts are stories (an incident run by several outlets counts once) on Peru days, read from the
views analysts use (``stories``, ``daily_topic_counts``, ``daily_department_counts``, ``spikes``).
Every string from a feed is escaped; a link gets an ``href`` only when it is http(s).
Words follow ``VIGIA_LANGUAGE`` (Spanish by default).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline import sql
from pipeline.publish import charts
from pipeline.publish.i18n import day_label, text, topic_label
from pipeline.settings import LIMA
from pipeline.urls import safe_href

log = logging.getLogger(__name__)

TOP_STORIES = 5  # per topic


@dataclass
class ReportData:
    start: date
    end: date
    previous_start: date
    previous_end: date
    days: list[date]
    per_day: list[int]  # stories per day of the period
    previous_per_day: list[int]  # the same for the previous period, day by day
    by_topic: dict[str, list[int]]  # topic → stories per day, busiest first
    topic_totals: dict[str, tuple[int, int]]  # topic → (this period, previous)
    department_totals: dict[str, tuple[str, int, int]]  # ubigeo → (name, this period, previous)
    top_stories: dict[str, list[dict]] = field(default_factory=dict)  # topic → stories
    spikes: list[tuple] = field(default_factory=list)

    @property
    def stories(self) -> int:
        return sum(self.per_day)

    @property
    def previous_stories(self) -> int:
        return sum(self.previous_per_day)


def period(
    con: duckdb.DuckDBPyConnection, start: date | None, end: date | None, days: int = 30
) -> tuple[date, date]:
    """The report's period: ``start``..``end`` (Peru days, inclusive); by default the last ``days``."""
    if end is None:
        end = sql.execute(con, "publish/today").fetchall()[0][0]
    if start is None:
        start = end - timedelta(days=days - 1)
    if start > end:
        raise ValueError(f"the period starts ({start}) after it ends ({end})")
    return start, end


def collect(con: duckdb.DuckDBPyConnection, start: date, end: date) -> ReportData:
    length = (end - start).days + 1
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - timedelta(days=length - 1)
    days = [start + timedelta(days=i) for i in range(length)]
    per_day = _per_day(con, start, end)
    previous = _per_day(con, previous_start, previous_end)
    period = {"start": start, "previous_start": previous_start, "end": end}
    by_topic: dict[str, list[int]] = {}
    for topic, day, stories in sql.execute(
        con, "publish/topic_days", {"start": start, "end": end}
    ).fetchall():
        by_topic.setdefault(topic, [0] * length)[(day - start).days] = int(stories)
    by_topic = dict(sorted(by_topic.items(), key=lambda kv: (-sum(kv[1]), kv[0])))
    topic_totals = {
        topic: (int(now), int(before))
        for topic, now, before in sql.execute(con, "publish/topic_totals", period).fetchall()
    }
    department_totals = {
        ubigeo: (name, int(now), int(before))
        for ubigeo, name, now, before in sql.execute(con, "publish/department_totals", period).fetchall()
    }
    top: dict[str, list[dict]] = {}
    cursor = sql.execute(con, "publish/top_stories", {"start": start, "end": end, "per_topic": TOP_STORIES})
    names = [d[0] for d in cursor.description]
    for row in cursor.fetchall():
        story = dict(zip(names, row, strict=True))
        top.setdefault(story["topic"], []).append(story)
    spikes = sql.execute(con, "publish/spikes", {"start": start, "end": end}).fetchall()
    return ReportData(
        start,
        end,
        previous_start,
        previous_end,
        days,
        per_day,
        previous,
        by_topic,
        topic_totals,
        department_totals,
        top,
        spikes,
    )


def _per_day(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[int]:
    counts = [0] * ((end - start).days + 1)
    for day, n in sql.execute(con, "publish/stories_per_day", {"start": start, "end": end}).fetchall():
        counts[(day - start).days] = int(n)
    return counts


# ---------------------------------------------------------------- the page


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _change(now: int, before: int, language: str) -> str:
    if before == 0:
        return text("new", language) if now else "="
    pct = round(100 * (now - before) / before)
    return f"{pct:+d} %"


def page(data: ReportData, generated: datetime, language: str = "es") -> str:
    """The whole HTML page. Every string from a feed is escaped."""
    t = lambda key, **kw: text(key, language, **kw)  # noqa: E731
    when = generated.astimezone(LIMA).strftime("%Y-%m-%d %H:%M")
    span = t("period", start=day_label(data.start, language), end=day_label(data.end, language))
    previous = t(
        "previous_period",
        start=day_label(data.previous_start, language),
        end=day_label(data.previous_end, language),
    )
    head = [
        f"<h1>{esc(t('report_title'))}</h1>",
        f'<p class="period">{esc(span)} · <span class="note">{esc(previous)}</span></p>',
        f'<p class="note">{esc(t("generated", when=when))}</p>',
    ]
    if data.stories == 0:
        body = [f'<p id="empty" class="empty">{esc(t("no_stories"))}</p>']
        scripts = ""
    else:
        leading_topic = next(iter(data.topic_totals), None)
        leading_department = next(iter(data.department_totals.values()), None)
        summary = [
            t(
                "summary",
                stories=data.stories,
                previous=data.previous_stories,
                change=_change(data.stories, data.previous_stories, language),
            ),
            t(
                "summary_leaders",
                topic=topic_label(leading_topic, language),
                department=leading_department[0] if leading_department else t("none_identified"),
            ),
        ]
        body = [f'<p id="summary" class="summary">{esc(" ".join(summary))}</p>']
        body += [f'<div class="chart">{c}</div>' for c in charts.report_charts(data, language)]
        body += _map_section(data, language)
        body += _top_stories(data, language)
        body += _spikes(data, language)
        scripts = f"<script>{charts.plotly_js()}</script>"
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(t("report_title"))}: {esc(span)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222;
        padding: 0 1em; }}
h1 {{ margin-bottom: 0.2em; }}
.note {{ color: #666; font-size: 0.9em; }}
.summary {{ font-size: 1.15em; background: #f6f6f6; padding: 0.6em 0.9em; border-left: 4px solid #b2182b; }}
.empty {{ font-size: 1.3em; color: #555; padding: 2em 0; }}
.map-row {{ display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }}
path.department {{ stroke: #fff; stroke-width: 0.8; }}
path.department:hover {{ stroke: #222; stroke-width: 1.5; }}
.swatch {{ display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 0.2em 0 0.6em; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
td.n {{ text-align: right; }}
li {{ margin-bottom: 0.4em; }}
</style>{scripts}</head>
<body>
{chr(10).join(head)}
{chr(10).join(body)}
</body></html>
"""


def _map_section(data: ReportData, language: str) -> list[str]:
    t = lambda key: text(key, language)  # noqa: E731
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td class='n'>{now}</td><td class='n'>{before}</td>"
        f"<td class='n'>{now - before:+d}</td></tr>"
        for name, now, before in data.department_totals.values()
    )
    table = (
        f"<table id='departments'><tr><th>{esc(t('department'))}</th><th>{esc(t('this_period'))}</th>"
        f"<th>{esc(t('previous'))}</th><th>{esc(t('difference'))}</th></tr>{rows}</table>"
    )
    return [
        f"<h2>{esc(t('map'))}</h2>",
        f'<div class="map-row"><div>{charts.department_map(data, language)}'
        f'<p class="note">{esc(t("map_note"))}</p></div>{table}</div>',
    ]


def _top_stories(data: ReportData, language: str) -> list[str]:
    t = lambda key: text(key, language)  # noqa: E731
    out = [f"<h2>{esc(t('top_stories'))}</h2>"]
    for topic in data.topic_totals:
        stories = data.top_stories.get(topic, [])
        if not stories:
            continue
        out.append(f"<h3>{esc(topic_label(topic, language))} ({data.topic_totals[topic][0]})</h3><ol>")
        for s in stories:
            href = safe_href(s["url"])
            title = esc(s["title"] or s["story_id"])
            headline = f'<a href="{esc(href)}">{title}</a>' if href else title
            when = s["first_event_at"].astimezone(LIMA).strftime("%Y-%m-%d %H:%M")
            places = ", ".join(s["department_names"] or []) or t("none_identified")
            out.append(
                f"<li>{headline}<br><span class='note'>{esc(when)} · {s['outlets']} {esc(t('outlets'))}"
                f" ({esc(', '.join(s['outlet_names'] or []))}) · {s['articles']} {esc(t('articles'))}"
                f" · {esc(places)}</span></li>"
            )
        out.append("</ol>")
    return out


def _spikes(data: ReportData, language: str) -> list[str]:
    t = lambda key: text(key, language)  # noqa: E731
    out = [f"<h2>{esc(t('spikes'))}</h2>", f'<p class="note">{esc(t("spikes_note"))}</p>']
    if not data.spikes:
        return out + [f"<p>{esc(t('no_spikes'))}</p>"]
    rows = "".join(
        f"<tr><td>{esc(day_label(day, language))}</td>"
        f"<td>{esc(topic_label(key, language) if dimension == 'topic' else name)}</td>"
        f"<td class='n'>{stories}</td><td class='n'>{expected:g}</td><td class='n'>{z:.1f}</td>"
        f"<td>{'' if ok else esc(t('short_baseline'))}</td></tr>"
        for day, dimension, key, name, stories, expected, z, ok in data.spikes
    )
    return out + [
        f"<table id='spikes'><tr><th>{esc(t('day'))}</th><th></th><th>{esc(t('stories'))}</th>"
        f"<th>{esc(t('expected'))}</th><th>z</th><th></th></tr>{rows}</table>"
    ]


def write_report(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    start: date | None = None,
    end: date | None = None,
    days: int = 30,
    language: str = "es",
) -> Path:
    """Write ``report.html`` under ``out`` and return its path."""
    first, last = period(con, start, end, days)
    data = collect(con, first, last)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(page(data, datetime.now(UTC), language), encoding="utf-8")
    log.info("report: %s to %s, %d stories, written to %s", first, last, data.stories, path)
    return path
