"""The emails: a subject, a plain-text part and an HTML part for each alert.

Two rules hold for everything that comes from a feed (titles, outlet names, URLs, error messages):

* it never reaches a header as it is: ``clean_header`` turns CR, LF, every other control
  character and the invisible or bidirectional format characters into spaces, collapses runs,
  and cuts to a length, so ``"X\\r\\nBcc: evil@example.org"`` becomes the one-line text
  ``"X Bcc: evil@example.org"`` inside the Subject, never a header of its own;
* it is HTML-escaped (quotes too) in the HTML part, and a link gets an ``href`` only when it is
  http(s): a ``javascript:`` link is shown as text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.alerts.detect import FeedChange, Spike, Staleness, Story, hours_text
from pipeline.publish.i18n import text
from pipeline.publish.i18n import topic_label as i18n_topic
from pipeline.settings import LIMA
from pipeline.urls import safe_href

CHART_CID = "trend-chart@vigia"  # the Content-ID of the inline chart (one image per message)
SUBJECT_MAX = 160
NO_DEPARTMENT = "Sin departamento identificado"

# C0 and C1 controls (CR, LF, TAB, NUL, NEL ...), line/paragraph separators, zero-width and
# bidirectional-override characters (which can make a subject read differently than it is).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    text: str
    html: str
    chart_png: bytes | None = None  # referenced by the HTML as cid:CHART_CID


def clean_header(text: str, limit: int = SUBJECT_MAX) -> str:
    """One safe line for a header: no control or format characters, single spaces, at most ``limit``."""
    text = unicodedata.normalize("NFC", str(text))
    text = " ".join(_UNSAFE.sub(" ", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_inline(text: str | None, limit: int = 400) -> str:
    """A feed string for one line of the text part (same cleaning as a header, longer)."""
    return clean_header(text or "", limit)


def esc(text: object) -> str:
    return html.escape(clean_inline(str(text) if text is not None else "", 2000), quote=True)


def lima_time(moment: datetime | None) -> str:
    return f"{moment.astimezone(LIMA):%Y-%m-%d %H:%M}" if moment else "?"


def topic_label(topic: str | None) -> str:
    from pipeline.classify.taxonomy import TOPIC_LABELS

    if not topic:
        return "Other"
    return TOPIC_LABELS.get(topic, topic)


def _page(title: str, body: str, language: str = "en") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"><title>'
        + esc(title)
        + "</title></head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;max-width:760px">\n'
        + body
        + f'\n<p style="color:#888;font-size:12px">{esc(text("footer", language))}</p>\n</body></html>\n'
    )


# ---------------------------------------------------------------- the digest


def _no_department(language: str) -> str:
    return NO_DEPARTMENT if language == "es" else "No department identified"


def group_stories(
    stories: Sequence[Story], department_names: dict[str, str], language: str = "es"
) -> list[tuple[str, list[tuple[str, list[Story]]]]]:
    """Stories by their main topic, then the department where they happened (the primary department,
    not whichever the text names first); largest groups first, best scores first."""
    by_topic: dict[str, dict[str, list[Story]]] = {}
    none = _no_department(language)
    for story in stories:
        topic = story.topics[0] if story.topics else ""
        code = story.primary_department or ""
        department = department_names.get(code, code) if code else none
        by_topic.setdefault(topic, {}).setdefault(department, []).append(story)

    def size(groups: dict[str, list[Story]]) -> int:
        return sum(len(v) for v in groups.values())

    out = []
    for topic, departments in sorted(by_topic.items(), key=lambda kv: (-size(kv[1]), kv[0])):
        ordered = sorted(departments.items(), key=lambda kv: (kv[0] == none, -len(kv[1]), kv[0]))
        out.append((topic, [(d, sorted(s, key=lambda x: (-x.score, x.story_id))) for d, s in ordered]))
    return out


def leading_topic(stories: Sequence[Story]) -> str:
    counts = Counter(s.topics[0] for s in stories if s.topics)
    if not counts:
        return ""
    best = max(counts.values())
    # On a tie, the topic of the best-scored story among the tied ones.
    for story in sorted(stories, key=lambda s: -s.score):
        if story.topics and counts[story.topics[0]] == best:
            return story.topics[0]
    return ""


def digest_subject(stories: Sequence[Story], total: int, language: str = "es") -> str:
    word = text("story_one" if total == 1 else "story_many", language)
    # The lead story: best score (to 2 decimals: 0.9999 and 1.0 are alike), most outlets, newest.
    top = max(stories, key=lambda s: (round(s.score, 2), len(s.outlets), s.event_at))
    return clean_header(
        text(
            "digest_subject",
            language,
            total=total,
            stories_word=word,
            topic=i18n_topic(leading_topic(stories), language),
            title=top.title,
        )
    )


def digest_summary(stories: Sequence[Story], department_names: dict[str, str], language: str) -> str:
    """One line at the top: how many stories per topic, and where most happened."""
    grouped = group_stories(stories, department_names, language)
    parts = []
    for topic, departments in grouped[:4]:
        count = sum(len(s) for _, s in departments)
        where = [f"{d} {len(s)}" for d, s in departments if d != _no_department(language)][:2]
        parts.append(f"{count} · {i18n_topic(topic, language)}" + (f" ({', '.join(where)})" if where else ""))
    if len(grouped) > 4:
        parts.append("…")
    return text("digest_summary", language, parts="; ".join(parts))


def lede(story: Story, limit: int = 220) -> str:
    """The story in one line: the first sentence of its article's summary (or text), unless it only
    repeats the title."""
    body = " ".join((story.lede or "").split())
    if not body:
        return ""
    end = body.find(". ", 40)
    sentence = body[: end + 1] if 0 < end < limit else body
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rstrip() + "…"
    if sentence.rstrip(".…").lower() in (story.title or "").lower():
        return ""
    return sentence


def render_digest(
    stories: Sequence[Story],
    department_names: dict[str, str],
    now: datetime,
    chart_png: bytes | None = None,
    total: int | None = None,
    language: str = "es",
) -> Email:
    """One digest email. ``total`` counts the new stories when only the best ``len(stories)`` are listed.
    Its words follow ``language`` (VIGIA_LANGUAGE): a summary line, then each story with a one-line lede."""
    total = len(stories) if total is None else total
    grouped = group_stories(stories, department_names, language)
    names = department_names
    word = text("story_one" if total == 1 else "story_many", language)
    heading = text("digest_heading", language, total=total, stories_word=word, when=lima_time(now))
    summary = digest_summary(stories, names, language)

    text_lines = [f"Vigía: {heading}", "", clean_inline(summary, 1000), ""]
    body = [f'<h2 style="margin-bottom:4px">{esc(heading)}</h2>', f"<p><strong>{esc(summary)}</strong></p>"]
    if chart_png:
        body.append(
            f'<p><img src="cid:{CHART_CID}" alt="{esc(text("chart_alt", language))}"'
            ' width="700" style="max-width:100%"></p>'
        )
    for topic, departments in grouped:
        count = sum(len(s) for _, s in departments)
        label = i18n_topic(topic, language)
        text_lines += [f"== {label} ({count}) ==", ""]
        body.append(f'<h3 style="border-bottom:1px solid #ccc">{esc(label)} ({count})</h3>')
        for department, group in departments:
            text_lines.append(f"-- {department} --")
            body.append(f'<h4 style="margin:8px 0 4px;color:#555">{esc(department)}</h4><ul>')
            for story in group:
                text_lines += _story_text(story, names, language)
                body.append(_story_html(story, names, language))
            text_lines.append("")
            body.append("</ul>")
    if total > len(stories):
        note = text("digest_more", language, more=total - len(stories))
        text_lines.append(note)
        body.append(f"<p><em>{esc(note)}</em></p>")
    return Email(
        subject=digest_subject(stories, total, language),
        text="\n".join(text_lines) + "\n",
        html=_page(heading, "\n".join(body), language),
        chart_png=chart_png,
    )


def _departments(story: Story, names: dict[str, str], language: str = "en") -> str:
    """The place of the event first, then the other departments the story names."""
    primary = story.primary_department
    others = [names.get(c, c) for c in story.departments if c != primary]
    if primary is None:
        return ", ".join(others) or "—"
    also = "también" if language == "es" else "also"
    return names.get(primary, primary) + (f" ({also} {', '.join(others)})" if others else "")


def _story_text(story: Story, names: dict[str, str], language: str = "en") -> list[str]:
    topics = ", ".join(i18n_topic(t, language) for t in story.topics[:3])
    lines = [f"* {clean_inline(story.title)}"]
    summary = lede(story)
    if summary:
        lines.append(f"  {clean_inline(summary)}")
    lines.append(
        f"  {lima_time(story.event_at)} (Lima) · {text('score', language)} {story.score:.2f} · "
        f"{topics} · {_departments(story, names, language)}"
    )
    for link in story.links:
        target = clean_inline(link.url, 600) or text("no_link", language)
        lines.append(f"  {clean_inline(link.outlet, 80)}: {target}")
    return lines


def _story_html(story: Story, names: dict[str, str], language: str = "en") -> str:
    href = safe_href(story.url)
    title = esc(story.title)
    headline = f'<a href="{esc(href)}">{title}</a>' if href else title
    links = []
    for link in story.links:
        target = safe_href(link.url)
        outlet = esc(link.outlet)
        links.append(f'<a href="{esc(target)}">{outlet}</a>' if target else outlet)
    topics = ", ".join(i18n_topic(t, language) for t in story.topics[:3])
    meta = (
        f"{esc(lima_time(story.event_at))} (Lima) · {esc(text('score', language))} {story.score:.2f} · "
        f"{esc(topics)} · {esc(_departments(story, names, language))}"
    )
    summary = lede(story)
    lede_html = f"{esc(summary)}<br>" if summary else ""
    return (
        f'<li style="margin-bottom:8px"><strong>{headline}</strong><br>{lede_html}'
        f'<span style="color:#666;font-size:12px">{meta}</span><br>'
        f'<span style="font-size:12px">{" · ".join(links)}</span></li>'
    )


# ---------------------------------------------------------------- spikes, feeds, freshness


def _spike_name(spike: Spike) -> str:
    return topic_label(spike.key) if spike.dimension == "topic" else spike.name


def render_spikes(spikes: Sequence[Spike]) -> Email:
    first = spikes[0]
    if len(spikes) == 1:
        subject = (
            f"Vigía: spike in {_spike_name(first)}: {first.stories} stories today "
            f"(usually {first.expected:g}) from {first.outlets} outlets"
        )
    else:
        subject = f"Vigía: {len(spikes)} spikes today: " + ", ".join(_spike_name(s) for s in spikes)
    rows_text, rows_html = [], []
    for s in spikes:
        what = f"{s.dimension} {_spike_name(s)}"
        line = (
            f"{what}: {s.stories} stories on {s.day} from {s.outlets} outlets; "
            f"expected {s.expected:g}; robust z {s.robust_z:.1f}"
        )
        rows_text.append("* " + line)
        rows_html.append(f"<li>{esc(line)}</li>")
    explain = (
        "A spike is a day whose stories stand well above the topic's or department's own 28-day, "
        "weekday-aware baseline (robust z >= 3.5, at least 3 stories from 3 outlets): see the spikes view."
    )
    return Email(
        subject=clean_header(subject),
        text="Vigía: spikes today\n\n" + "\n".join(rows_text) + "\n\n" + explain + "\n",
        html=_page(subject, "<h2>Spikes today</h2><ul>" + "".join(rows_html) + f"</ul><p>{esc(explain)}</p>"),
    )


def render_feed_changes(changes: Sequence[FeedChange]) -> Email:
    quiet = [c for c in changes if c.change == "quiet"]
    back = [c for c in changes if c.change == "recovered"]
    if len(changes) == 1:
        c = changes[0]
        subject = f"Vigía: feed {c.feed} " + ("is quiet" if c.change == "quiet" else "is back")
    else:
        feeds = "feed" if len(quiet) == 1 else "feeds"
        parts = [f"{len(quiet)} {feeds} quiet" if quiet else "", f"{len(back)} back" if back else ""]
        subject = "Vigía: " + ", ".join(p for p in parts if p)
    text, body = ["Vigía: feed health", ""], ["<h2>Feed health</h2>"]
    for title, items in (("Quiet", quiet), ("Back to normal", back)):
        if not items:
            continue
        text.append(f"{title}:")
        body.append(f"<h3>{esc(title)}</h3><ul>")
        for c in items:
            text.append(f"* {clean_inline(c.feed, 80)}: {clean_inline(c.reason, 600)}")
            body.append(f"<li><strong>{esc(c.feed)}</strong>: {esc(c.reason)}</li>")
        text.append("")
        body.append("</ul>")
    note = "Details per feed: the source_health view (python -m pipeline, make sql)."
    return Email(
        clean_header(subject),
        "\n".join(text + [note]) + "\n",
        _page(subject, "\n".join(body + [f"<p>{esc(note)}</p>"])),
    )


def render_freshness(change: Staleness, now: datetime) -> Email:
    last = f"{lima_time(change.last_load_at)} (Lima), run {change.last_run_id}"
    if change.change == "stale":
        age = hours_text(now - change.last_load_at) if change.last_load_at else "ever"
        subject = f"Vigía: no successful load for {age}"
        line = (
            f"The last successful load finished {last}; the limit is {hours_text(change.limit)}. "
            "The scheduler, a worker or the ingestion DAG may be down "
            "(a killed worker sends no failure email)."
        )
    else:
        subject = "Vigía: loads have resumed"
        line = f"A load succeeded again: {last}."
    return Email(
        clean_header(subject),
        f"{subject}\n\n{line}\n",
        _page(subject, f"<h2>{esc(subject)}</h2><p>{esc(line)}</p>"),
    )
