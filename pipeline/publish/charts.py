"""Every chart Vigía draws, in one place.

- The digest's inline chart (``trend_chart_png``): relevant stories per day over the last 14 days,
  one line per topic, from the ``daily_topic_counts`` view (stories, so a wire story carried by ten
  outlets counts once), as PNG with matplotlib's Agg backend, imported here only: parsing a DAG
  never pays for it.
- The report's charts (``report_charts``): plotly figures as HTML fragments (hover, zoom, legend
  toggles), and its map of Peru by department (``department_map``), inline SVG drawn from
  ``pipeline/data/peru_departments.geojson`` (source and licence in ``scripts/peru_departments.py``).
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
from datetime import date, timedelta
from functools import cache
from typing import Protocol

import duckdb

from pipeline import sql
from pipeline.publish.i18n import text, topic_label
from pipeline.settings import REPO_ROOT

log = logging.getLogger(__name__)

DAYS = 14
MAX_TOPICS = 5  # the busiest topics of the fortnight; more lines are unreadable at email size
GEOJSON = REPO_ROOT / "pipeline" / "data" / "peru_departments.geojson"
PALETTE = ("#f1eef6", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
LIMA_CODES = ("15", "1501")  # one shape on the map


class Period(Protocol):
    """What the report's charts read of its data (``report.ReportData``)."""

    days: list[date]
    previous_start: date
    per_day: list[int]
    previous_per_day: list[int]
    by_topic: dict[str, list[int]]
    topic_totals: dict[str, tuple[int, int]]
    department_totals: dict[str, tuple[str, int, int]]


def trend_series(con: duckdb.DuckDBPyConnection, day: date) -> tuple[list[date], dict[str, list[int]]]:
    """(the 14 days, {topic: stories per day}) for the busiest topics, days without stories as 0."""
    days = [day - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    counts: dict[str, dict[date, int]] = {}
    for d, topic, stories in sql.execute(con, "alerts/trend_14d", {"day": day}).fetchall():
        counts.setdefault(topic, {})[d] = int(stories)
    busiest = sorted(counts, key=lambda t: (-sum(counts[t].values()), t))[:MAX_TOPICS]
    return days, {t: [counts[t].get(d, 0) for d in days] for t in busiest}


def trend_chart_png(con: duckdb.DuckDBPyConnection, day: date, language: str = "es") -> bytes | None:
    """The chart as PNG bytes, or None when there is nothing to draw or drawing fails (the digest
    then goes out without it: a chart is never worth losing the email)."""
    days, series = trend_series(con, day)
    if not series:
        return None
    try:
        return _draw(days, series, language)
    except Exception:  # noqa: BLE001 - matplotlib raises many kinds; the digest must not depend on it
        log.exception("trend chart could not be drawn; the digest goes out without it")
        return None


def _draw(days: list[date], series: dict[str, list[int]], language: str = "es") -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 2.8), dpi=100)
    try:
        for topic, values in series.items():
            ax.plot(
                date2num(days),
                values,
                marker="o",
                markersize=3,
                linewidth=1.5,
                label=topic_label(topic, language),
            )
        ax.set_title(text("chart_alt", language) + " (Lima)", fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


# ---------------------------------------------------------------- the report's charts


@cache
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _figure_html(figure: object, div_id: str) -> str:
    return figure.to_html(  # type: ignore[attr-defined]
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def report_charts(data: Period, language: str) -> list[str]:
    """The report's interactive charts, as HTML fragments (plotly.js itself is inlined once, in the page)."""
    import plotly.graph_objects as go

    t = lambda key: text(key, language)  # noqa: E731
    x = [d.isoformat() for d in data.days]

    def count_axis(top: int) -> dict:
        # whole stories only, from zero up: never a fractional or negative tick
        return dict(rangemode="tozero", title=t("stories"), dtick=max(1, math.ceil(top / 8)), tick0=0)

    layout = dict(
        template="plotly_white",
        height=330,
        margin=dict(l=50, r=20, t=50, b=40),
        hovermode="x unified",
        legend=dict(orientation="h", y=-0.15),
        xaxis=dict(tickformat="%d/%m" if language == "es" else "%d %b"),
        yaxis=count_axis(max(data.per_day + data.previous_per_day + [1])),
    )
    daily = go.Figure(
        [
            go.Bar(x=x, y=data.per_day, name=t("this_period"), marker_color="#b2182b"),
            go.Scatter(
                x=x,
                y=data.previous_per_day,
                name=t("previous"),
                mode="lines",
                line=dict(color="#4d4d4d", dash="dot"),
                customdata=[(data.previous_start + timedelta(days=i)).isoformat() for i in range(len(x))],
                hovertemplate="%{customdata}: %{y}<extra></extra>",
            ),
        ],
        layout=dict(layout, title=t("per_day")),
    )
    by_topic = go.Figure(
        [
            go.Scatter(
                x=x, y=values, name=topic_label(topic, language), mode="lines+markers", stackgroup=None
            )
            for topic, values in data.by_topic.items()
        ],
        layout=dict(
            layout,
            title=t("by_topic"),
            height=380,
            yaxis=count_axis(max([max(v) for v in data.by_topic.values()] + [1])),
        ),
    )
    topics = list(data.topic_totals)
    comparison = go.Figure(
        [
            go.Bar(
                y=[topic_label(k, language) for k in topics],
                x=[data.topic_totals[k][1] for k in topics],
                name=t("previous"),
                orientation="h",
                marker_color="#bababa",
            ),
            go.Bar(
                y=[topic_label(k, language) for k in topics],
                x=[data.topic_totals[k][0] for k in topics],
                name=t("this_period"),
                orientation="h",
                marker_color="#b2182b",
            ),
        ],
        layout=dict(
            layout,
            title=t("comparison"),
            height=max(260, 60 + 45 * len(topics)),
            barmode="group",
            hovermode="y unified",
            yaxis=dict(autorange="reversed"),
            xaxis=count_axis(max([max(v) for v in data.topic_totals.values()] + [1])),
            margin=dict(l=220, r=20, t=50, b=40),
        ),
    )
    return [
        _figure_html(daily, "chart-per-day"),
        _figure_html(by_topic, "chart-by-topic"),
        _figure_html(comparison, "chart-comparison"),
    ]


@cache
def _departments_geojson() -> dict:
    return json.loads(GEOJSON.read_text(encoding="utf-8"))


def department_map(data: Period, language: str, width: int = 430) -> str:
    """Peru by department as inline SVG, shaded by this period's stories; hover for the figures."""
    collection = _departments_geojson()
    points = [
        p
        for feature in collection["features"]
        for polygon in feature["geometry"]["coordinates"]
        for ring in polygon
        for p in ring
    ]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    aspect = math.cos(math.radians((north + south) / 2))  # an equirectangular map, true at mid-Peru
    scale = width / ((east - west) * aspect)
    height = round((north - south) * scale)

    def xy(p: list[float]) -> str:
        return f"{(p[0] - west) * aspect * scale:.1f},{(north - p[1]) * scale:.1f}"

    totals = data.department_totals

    def figures(ubigeo: str) -> tuple[int, int]:
        codes = LIMA_CODES if ubigeo in LIMA_CODES else (ubigeo,)
        return (
            sum(totals.get(c, ("", 0, 0))[1] for c in codes),
            sum(totals.get(c, ("", 0, 0))[2] for c in codes),
        )

    top = max([figures(f["properties"]["ubigeo"])[0] for f in collection["features"]] + [1])
    shapes = []
    for feature in collection["features"]:
        ubigeo, name = feature["properties"]["ubigeo"], feature["properties"]["name"]
        now, before = figures(ubigeo)
        shade = PALETTE[0] if now == 0 else PALETTE[min(4, 1 + int(3 * now / top))]
        path = " ".join(
            "M" + " L".join(xy(p) for p in ring) + " Z"
            for polygon in feature["geometry"]["coordinates"]
            for ring in polygon
        )
        label = f"{name}: {now} {text('stories', language)} ({text('previous', language)}: {before})"
        shapes.append(
            f'<path class="department" data-ubigeo="{html.escape(ubigeo)}" data-stories="{now}" d="{path}"'
            f' fill="{shade}"><title>{html.escape(label)}</title></path>'
        )
    legend = "".join(
        f'<span class="swatch" style="background:{c}"></span>{html.escape(v)} '
        for c, v in zip(
            PALETTE,
            ["0", "1+", f"{math.ceil(top / 3)}+", f"{math.ceil(2 * top / 3)}+", str(top)],
            strict=True,
        )
    )
    return (
        f'<svg id="map" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' aria-label="{html.escape(text("map", language))}">{"".join(shapes)}</svg>'
        f'<p class="note">{legend}</p>'
    )
