"""The 30-day chart: stories per day, by topic and by department, as a PNG and an HTML page.

    python -m pipeline report [--out data/report] [--days 30]

Three panels share the day axis: relevant stories per day; a heat map of stories per topic and
day; the same per department. Heat maps rather than lines: with ten topics and twenty-six
departments, lines become spaghetti, while a dark cell is seen at once. Cells where the `spikes`
view fired are outlined. Counts are stories (an incident run by several outlets counts once),
on Peru days. The HTML page embeds the PNG (so it can be mailed as one file) and lists the spikes.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # no display: the report is written by servers and tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

log = logging.getLogger(__name__)

MAX_DEPARTMENTS = 15  # the busiest; the rest are summed into one row
CMAP = LinearSegmentedColormap.from_list("stories", ["#ffffff", "#fde0c5", "#f59e72", "#d9534f", "#7f1d1d"])


@dataclass
class ReportData:
    days: list[date]
    per_day: np.ndarray  # stories per day
    topics: list[str]
    by_topic: np.ndarray  # topics × days
    departments: list[str]
    by_department: np.ndarray  # departments × days
    spikes: list[tuple]  # (day, dimension, key, name, stories, expected, robust_z)


def collect(con: duckdb.DuckDBPyConnection, days: int = 30, today: date | None = None) -> ReportData:
    """The last ``days`` Peru days, ending ``today`` (default: today in Lima)."""
    if today is None:
        today = con.execute("select timezone('America/Lima', now())::date").fetchall()[0][0]
    first = today - timedelta(days=days - 1)
    span = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(span)}
    per_day = np.zeros(days, dtype=int)
    for day, n in con.execute(
        "select day, count(*) from stories where day between ? and ? group by day", [first, today]
    ).fetchall():
        per_day[index[day]] = n
    topics, by_topic = _matrix(
        con.execute(
            "select topic, day, stories from daily_topic_counts where day between ? and ?", [first, today]
        ).fetchall(),
        index,
    )
    departments, by_department = _matrix(
        con.execute(
            "select department, day, stories from daily_department_counts where day between ? and ?",
            [first, today],
        ).fetchall(),
        index,
    )
    if len(departments) > MAX_DEPARTMENTS:
        rest = by_department[MAX_DEPARTMENTS - 1 :].sum(axis=0, keepdims=True)
        others = len(departments) - MAX_DEPARTMENTS + 1
        departments = departments[: MAX_DEPARTMENTS - 1] + [f"{others} others"]
        by_department = np.vstack([by_department[: MAX_DEPARTMENTS - 1], rest])
    spikes = con.execute(
        "select day, dimension, key, name, stories, expected, robust_z from spikes"
        " where day between ? and ? order by day desc, robust_z desc",
        [first, today],
    ).fetchall()
    return ReportData(span, per_day, topics, by_topic, departments, by_department, spikes)


def _matrix(rows: list[tuple], index: dict[date, int]) -> tuple[list[str], np.ndarray]:
    """Rows (name, day, count) as names sorted busiest first, and a names × days matrix."""
    totals: dict[str, int] = {}
    for name, _day, n in rows:
        totals[name] = totals.get(name, 0) + n
    names = sorted(totals, key=lambda k: (-totals[k], k))
    position = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(index)), dtype=int)
    for name, day, n in rows:
        matrix[position[name], index[day]] = n
    return names, matrix


def topic_label(topic: str) -> str:
    try:
        from pipeline.classify.taxonomy import TOPICS
    except ImportError:  # the chart does not need the classifier to be importable
        return topic.replace("_", " ")
    labels = {t.id: t.label for t in TOPICS}
    return labels.get(topic, topic.replace("_", " "))


def render(data: ReportData) -> bytes:
    """The chart as PNG bytes."""
    n_days = len(data.days)
    heights = [2.2, max(len(data.topics), 1) * 0.42 + 0.6, max(len(data.departments), 1) * 0.42 + 0.6]
    fig, axes = plt.subplots(
        3,
        1,
        figsize=(13, sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
        sharex=True,
        layout="constrained",
    )
    first, last = data.days[0], data.days[-1]
    fig.suptitle(
        f"Vigía: relevant stories per day, {first:%d %b} – {last:%d %b %Y} (Peru time)",
        fontsize=15,
        fontweight="bold",
        x=0.01,
        ha="left",
    )

    ax = axes[0]
    x = np.arange(n_days)
    ax.bar(x, data.per_day, color="#7f1d1d", width=0.75)
    ax.set_ylabel("stories")
    ax.set_title(
        "All relevant stories. A story is one incident, however many outlets carried it;"
        " outlined cells below are spikes.",
        loc="left",
        fontsize=10,
        color="#444444",
    )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)

    _heatmap(
        axes[1],
        data.by_topic,
        [topic_label(t) for t in data.topics],
        "By topic",
        _spike_cells(data, "topic", data.topics, key_is_name=False),
    )
    _heatmap(
        axes[2],
        data.by_department,
        data.departments,
        "By department",
        _spike_cells(data, "department", data.departments, key_is_name=True),
    )

    ticks = [i for i, d in enumerate(data.days) if d.weekday() == 0 or i == n_days - 1]
    axes[2].set_xticks(ticks, [f"{data.days[i]:%a %d %b}" for i in ticks], rotation=0, fontsize=9)
    axes[2].set_xlim(-0.5, n_days - 0.5)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _spike_cells(
    data: ReportData, dimension: str, rows: list[str], key_is_name: bool
) -> list[tuple[int, int]]:
    position = {name: i for i, name in enumerate(rows)}
    day_index = {d: i for i, d in enumerate(data.days)}
    cells = []
    for day, dim, key, name, *_ in data.spikes:
        label = name if key_is_name else key
        if dim == dimension and label in position and day in day_index:
            cells.append((position[label], day_index[day]))
    return cells


def _heatmap(ax, matrix: np.ndarray, labels: list[str], title: str, spikes: list[tuple[int, int]]) -> None:
    ax.set_title(title, loc="left", fontsize=11)
    if not labels:
        ax.text(
            0.5,
            0.5,
            "no relevant stories in these days",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#777777",
        )
        ax.set_yticks([])
        return
    top = max(int(matrix.max()), 1)
    ax.imshow(matrix, aspect="auto", cmap=CMAP, vmin=0, vmax=top, interpolation="nearest")
    for (r, c), n in np.ndenumerate(matrix):
        if n:
            ax.text(
                c,
                r,
                str(n),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if n > top * 0.6 else "#333333",
            )
    for r, c in spikes:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="#1d4ed8", linewidth=2.2))
    totals = matrix.sum(axis=1)
    ax.set_yticks(
        range(len(labels)), [f"{label}  ({t})" for label, t in zip(labels, totals, strict=True)], fontsize=9
    )
    ax.tick_params(axis="y", length=0)
    ax.set_xticks(np.arange(-0.5, matrix.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0], 1), minor=True)
    ax.grid(which="minor", color="#eeeeee", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def page(data: ReportData, png: bytes, generated: datetime) -> str:
    """The HTML page: the chart, embedded, and the period's spikes. Every string is escaped."""
    image = base64.b64encode(png).decode("ascii")
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                f"{day:%a %d %b}",
                dimension,
                topic_label(key) if dimension == "topic" else name,
                stories,
                f"{expected:g}",
                f"{z:.1f}",
            )
        )
        + "</tr>"
        for day, dimension, key, name, stories, expected, z in data.spikes
    )
    spikes = (
        "<table><tr><th>day</th><th>kind</th><th>what</th><th>stories</th><th>expected</th>"
        f"<th>robust z</th></tr>\n{rows}\n</table>"
        if data.spikes
        else "<p>No spikes in these days.</p>"
    )
    first, last = data.days[0], data.days[-1]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Vigía: stories {first:%d %b} – {last:%d %b %Y}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1450px; color: #222; }}
img {{ max-width: 100%; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
.note {{ color: #555; }}
</style></head>
<body>
<h1>Relevant stories, {first:%d %b} – {last:%d %b %Y}</h1>
<p class="note">Generated {html.escape(generated.strftime("%Y-%m-%d %H:%M UTC"))}. Days are Peru days;
a story is one incident however many outlets carried it; the current model decides what is relevant.</p>
<img alt="Stories per day, by topic and by department" src="data:image/png;base64,{image}">
<h2>Spikes</h2>
<p class="note">A topic or department whose stories stand far above its own 28-day baseline
(robust z &ge; 3.5, at least 3 stories from 3 outlets): see the <code>spikes</code> view.</p>
{spikes}
</body></html>
"""


def write_report(
    con: duckdb.DuckDBPyConnection, out: Path, days: int = 30, today: date | None = None
) -> tuple[Path, Path]:
    """Write ``report.png`` and ``report.html`` under ``out``; returns their paths."""
    data = collect(con, days, today)
    png = render(data)
    out.mkdir(parents=True, exist_ok=True)
    png_path, html_path = out / "report.png", out / "report.html"
    png_path.write_bytes(png)
    html_path.write_text(page(data, png, datetime.now(UTC)), encoding="utf-8")
    log.info("report: %d days, %d stories, written to %s", days, int(data.per_day.sum()), out)
    return png_path, html_path
