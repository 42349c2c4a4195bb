"""What alert emails say and how: header cleaning, HTML escaping, grouping, configuration."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alerts.config import (
    RecipientFilter,
    load_config,
    parse_filters,
    parse_recipients,
    with_airflow_variables,
)
from pipeline.alerts.detect import FeedChange, Link, Spike, Staleness, Story
from pipeline.alerts.outbox import Pending, build_message
from pipeline.alerts.render import (
    clean_header,
    render_digest,
    render_feed_changes,
    render_freshness,
    render_spikes,
    safe_href,
)
from pipeline.errors import ConfigError
from pipeline.settings import Settings

NOW = datetime(2025, 10, 20, 15, 0, tzinfo=UTC)
NAMES = {"13": "La Libertad", "1501": "Lima Metropolitana", "07": "Callao"}


def story(
    n: int, title: str, topics=("extortion",), departments=("1501",), score=0.9, links=None, primary="first"
) -> Story:
    return Story(
        story_id=f"s{n}",
        title=title,
        url=f"https://diario.example/{n}",
        score=score,
        topics=tuple(topics),
        departments=tuple(departments),
        event_at=NOW - timedelta(hours=n),
        first_seen_at=NOW,
        links=tuple(links or (Link("diario-sur", f"https://diario.example/{n}", title, NOW),)),
        primary_department=(departments[0] if departments else None) if primary == "first" else primary,
    )


# ---------------------------------------------------------------- headers


def test_clean_header_turns_the_injection_title_into_one_line():
    assert clean_header("X\r\nBcc: evil@example.org\r\n\r\n<script>") == "X Bcc: evil@example.org <script>"


@pytest.mark.parametrize(
    "char", ["\x00", "\t", "\x0b", "\x1b", "\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\ufeff"]
)
def test_clean_header_drops_every_control_and_invisible_format_character(char):
    assert clean_header(f"a{char}b") in ("a b", "ab")
    assert char not in clean_header(f"a{char}b")


def test_clean_header_cuts_long_subjects():
    assert len(clean_header("x" * 1000)) == 160 and clean_header("x" * 1000).endswith("…")


def test_a_built_message_has_one_subject_and_only_the_listed_recipients():
    hostile = "X\r\nBcc: evil@example.org\r\n\r\n<script>"
    item = Pending(
        "digest:1:0", "digest", ("ana@example.org",), render_digest([story(1, hostile)], NAMES, NOW), 0
    )
    # Even a subject stored uncleaned (a hand edit of the outbox) is cleaned when the message is built.
    item = Pending(
        item.alert_id,
        item.kind,
        item.recipients,
        item.email.__class__(hostile, item.email.text, item.email.html),
        0,
    )
    msg, recipients = build_message(item, "vigia@example.org")
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert recipients == ["ana@example.org"]
    assert parsed.get_all("Subject") == ["X Bcc: evil@example.org <script>"]
    assert parsed.get_all("Bcc") is None and b"\r\nBcc:" not in raw.split(b"\r\n\r\n")[0]
    assert parsed["Message-ID"].endswith(".vigia@example.org>")


def test_recipients_that_could_smuggle_headers_or_addresses_are_refused():
    text = (
        "ana@example.org, evil@example.org\r\nBcc: x@example.org; Ana@Example.org; <l@x.org>; "
        "luis@example.org"
    )
    assert parse_recipients(text) == ("ana@example.org", "luis@example.org")


# ---------------------------------------------------------------- HTML


def test_the_digest_escapes_every_feed_string_and_links_only_http():
    hostile = story(
        1,
        '<img src=x onerror=alert(1)> "Quoted" & <b>bold</b>',
        links=(
            Link("<i>outlet</i>", 'javascript:alert("x")', "t", NOW),
            Link("ok-outlet", 'https://ok.example/a?b=1&c="2"', "t", NOW),
        ),
    )
    mail = render_digest([hostile], NAMES, NOW)
    assert "<img src=x" not in mail.html and "<b>bold" not in mail.html and "<i>outlet" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;Quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in mail.html
    assert "javascript:" not in mail.html  # shown as the outlet's name, without a link
    assert 'href="https://ok.example/a?b=1&amp;c=&quot;2&quot;"' in mail.html
    assert safe_href("file:///etc/passwd") is None and safe_href("https://x.example/\r\nX") is None


def test_the_digest_files_a_story_under_its_primary_department_not_the_first_listed():
    pataz = story(1, "Masacre en Pataz", ("illegal_mining",), ("1501", "13"), primary="13")
    mail = render_digest([pataz], NAMES, NOW)
    assert "-- La Libertad --" in mail.text and "-- Lima Metropolitana --" not in mail.text
    assert "La Libertad (también Lima Metropolitana)" in mail.text  # Spanish by default


def test_recipient_department_filters_look_at_the_primary_department():
    wants_lima = RecipientFilter(departments=frozenset({"1501"}))
    assert not wants_lima.wants_story(["illegal_mining"], ["1501", "13"], 0.9, primary="13")
    assert wants_lima.wants_story(["extortion"], ["1501"], 0.9, primary="1501")
    assert wants_lima.wants_story(["extortion"], ["1501", "07"], 0.9, primary=None)  # no primary: any named


def test_the_digest_groups_by_topic_then_department_and_names_the_leading_topic():
    stories = [
        story(1, "Extorsión en SJL", ("extortion", "homicide"), ("1501",), 0.95),
        story(2, "Sicariato en Trujillo", ("homicide",), ("13",), 0.99),
        story(3, "Cobro de cupos en Trujillo", ("extortion",), ("13",), 0.8),
        story(4, "Extorsión sin lugar", ("extortion",), (), 0.7),
    ]
    mail = render_digest(stories, NAMES, NOW, language="en")
    assert (
        mail.subject
        == "Vigía: 4 new relevant stories · Extortion and protection rackets · Sicariato en Trujillo"
    )
    text = mail.text
    order = [
        text.index(s)
        for s in (
            "== Extortion and protection rackets (3) ==",
            "-- La Libertad --",
            "-- Lima Metropolitana --",
            "-- No department identified --",
            "== Homicide and contract killing (sicariato) (1) ==",
        )
    ]
    assert order == sorted(order)
    assert "score 0.99" in text and "2025-10-20 09:00 (Lima)" in text  # 13:00 UTC minus 2 h, in UTC-5
    assert "diario-sur: https://diario.example/2" in text


def test_a_long_digest_lists_the_best_and_counts_the_rest():
    mail = render_digest([story(1, "Uno"), story(2, "Dos")], NAMES, NOW, total=75, language="en")
    assert mail.subject.startswith("Vigía: 75 new relevant stories")
    assert "73 more new stories are not listed here" in mail.text


def test_the_digest_is_in_spanish_by_default_with_a_summary_and_a_lede_per_story():
    stories = [
        dataclasses.replace(
            story(1, "Extorsión en SJL", ("extortion",), ("1501",), 0.95),
            lede="Los transportistas de la ruta 2 pararon tras el tercer ataque de la semana. La policía"
            " investiga a una banda.",
        ),
        story(2, "Sicariato en Trujillo", ("homicide",), ("13",), 0.99),
        dataclasses.replace(
            story(3, "Cobro de cupos en Trujillo", ("extortion",), ("13",), 0.8),
            lede="Cobro de cupos en Trujillo",
        ),
    ]
    mail = render_digest(stories, NAMES, NOW)
    assert mail.subject.startswith("Vigía: 3 historias relevantes nuevas · Extorsión y cobro de cupos · ")
    lines = mail.text.splitlines()
    assert lines[2] == (
        "En resumen: 2 · Extorsión y cobro de cupos (La Libertad 1, Lima Metropolitana 1);"
        " 1 · Homicidios y sicariato (La Libertad 1)."
    )
    assert "  Los transportistas de la ruta 2 pararon tras el tercer ataque de la semana." in lines
    assert "Cobro de cupos en Trujillo" not in [line.strip() for line in lines if not line.startswith("*")]
    assert "puntaje 0.99" in mail.text and '<html lang="es">' in mail.html
    assert "Los transportistas de la ruta 2" in mail.html
    one = render_digest(stories[:1], NAMES, NOW)
    assert one.subject.startswith("Vigía: 1 historia relevante nueva · ")


def test_spike_feed_and_freshness_emails():
    spike = Spike("topic", "extortion", "extortion", NOW.date(), 9, 5, 1.0, 5.4)
    dept = Spike("department", "13", "La Libertad", NOW.date(), 6, 4, 0.0, 4.0)
    assert render_spikes([spike]).subject == (
        "Vigía: spike in Extortion and protection rackets: 9 stories today (usually 1) from 5 outlets"
    )
    assert render_spikes([spike, dept]).subject == (
        "Vigía: 2 spikes today: Extortion and protection rackets, La Libertad"
    )
    changes = [
        FeedChange("diario-sur", "quiet", "failed 3 fetches in a row: <html>500</html>"),
        FeedChange("lima-post", "recovered", "back"),
    ]
    feeds = render_feed_changes(changes)
    assert feeds.subject == "Vigía: 1 feed quiet, 1 back" and "&lt;html&gt;500" in feeds.html
    stale = render_freshness(Staleness("stale", NOW - timedelta(hours=5), "run-1", timedelta(hours=2)), NOW)
    assert stale.subject == "Vigía: no successful load for 5.0 h"


# ---------------------------------------------------------------- configuration


def test_filters_by_topic_department_score_and_ops():
    filters = parse_filters(
        json.dumps(
            {
                "ana@example.org": {
                    "topics": ["extortion"],
                    "departments": ["la libertad", "Áncash"],
                    "min_score": 0.8,
                },
                "luis@example.org": {"ops": False},
            }
        )
    )
    ana = filters["ana@example.org"]
    assert ana.departments == {"13", "02"}
    assert ana.wants_story(["homicide", "extortion"], ["13"], 0.9)
    assert not ana.wants_story(["extortion"], ["1501"], 0.9)
    assert not ana.wants_story(["extortion"], ["13"], 0.5)
    assert ana.wants_spike("department", "13") and not ana.wants_spike("topic", "homicide")
    settings = Settings.from_env(
        env={},
        alert_to="ana@example.org, luis@example.org, eva@example.org",
        alert_filters=json.dumps({"luis@example.org": {"ops": False}}),
    )
    config = load_config(settings)
    assert config.ops_recipients == ("ana@example.org", "eva@example.org")
    assert config.groups() == [
        (RecipientFilter(), ("ana@example.org", "eva@example.org")),
        (RecipientFilter(ops=False), ("luis@example.org",)),
    ]


@pytest.mark.parametrize(
    "filters, message",
    [
        ("{not json", "not valid JSON"),
        ('{"ana@example.org": {"topics": ["extorsion"]}}', r"unknown \['extorsion'\]"),
        ('{"ana@example.org": {"departments": ["Narnia"]}}', "not a department"),
        ('{"ana@example.org": {"min_score": 2}}', "min_score"),
        ('{"ana@example.org": {"colour": "red"}}', "keys among"),
        ('{"ana@example.org\\r\\nBcc: x@y.org": {}}', "not a plain email address"),
    ],
)
def test_a_bad_filter_is_a_configuration_error_naming_it(filters, message):
    with pytest.raises(ConfigError, match=message):
        parse_filters(filters)


def test_airflow_variables_override_alert_settings_at_run_time(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_VIGIA_ALERT_TO", "var@example.org")
    monkeypatch.setenv("AIRFLOW_VAR_VIGIA_SPIKE_COOLDOWN_HOURS", "6")
    settings = with_airflow_variables(Settings.from_env(env={}, alert_to="env@example.org"))
    assert (settings.alert_to, settings.spike_cooldown_hours) == ("var@example.org", 6.0)
