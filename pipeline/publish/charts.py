"""The digest's inline chart: relevant stories per day over the last 14 days, one line per topic.

Drawn from the ``daily_topic_counts`` view (stories, so a wire story carried by ten outlets counts
once) with matplotlib's Agg backend, imported here only: parsing a DAG never pays for it.
"""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta

import duckdb

from pipeline import sql

log = logging.getLogger(__name__)

DAYS = 14
MAX_TOPICS = 5  # the busiest topics of the fortnight; more lines are unreadable at email size


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

    from pipeline.publish.i18n import text, topic_label

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
