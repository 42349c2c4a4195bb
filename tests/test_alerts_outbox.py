"""Alert emails end to end without a scheduler: real cycles into real DuckDB, a real SMTP server
(aiosmtpd on 127.0.0.1) reached through the Airflow SMTP connection, as the DAG tasks do.

The helpers here (MailServer, the hostile sample site) are shared with test_alerts_dags.py.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline import tasks as ingest
from pipeline.alerts import detect, jobs, outbox
from pipeline.load import trends
from tests.conftest import REPO, make_settings
from tests.localweb import SAMPLE_SITE, LocalWeb, sample_feeds_toml, sample_site

RECIPIENTS = "ana@example.org, luis@example.org"

# A story title as a hostile feed could write it: markup for the HTML part, CR/LF for the headers.
HOSTILE_TITLE = (
    'X\r\nBcc: evil@example.org\r\n\r\n<script>alert("pwned")</script> Extorsionadores <b>balean</b> '
    'combi en Callao & "cobran" cupos'
)
HOSTILE_ARTICLE = {
    "slug": "extorsion-combi-callao",
    "title": HOSTILE_TITLE,
    "author": "Redacción",
    "published": "2025-10-20T23:59:00-05:00",  # the newest item: its story leads the digest's subject
    "summary": "Una banda de extorsionadores disparó contra una combi en el Callao por no pagar cupos.",
    "paragraphs": [
        "Una combi de la empresa de transportes Los Rápidos fue atacada a balazos la mañana del martes en el "
        "Callao. Los extorsionadores exigían el pago de un cupo semanal de 500 soles a cada chofer de la "
        "ruta, "
        "según denunciaron los dirigentes del gremio.",
        "La Policía Nacional informó que la División de Investigación Criminal del Callao busca a los dos "
        "sicarios que huyeron en una motocicleta. El chofer resultó ileso pero dos pasajeras fueron "
        "atendidas "
        "por crisis nerviosa en el hospital Daniel Alcides Carrión.",
        "Los transportistas del primer puerto anunciaron que suspenderán sus servicios si no se refuerza el "
        "patrullaje en los paraderos y se captura a la organización criminal que cobra cupos desde hace dos "
        "meses.",
    ],
}


def hostile_site(directory: Path) -> Path:
    """The sample site plus one relevant story whose title is hostile."""
    site = json.loads(SAMPLE_SITE.read_text(encoding="utf-8"))
    site["outlets"][0]["articles"].append(HOSTILE_ARTICLE)
    path = directory / "site.json"
    path.write_text(json.dumps(site, ensure_ascii=False), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    def part(self, content_type: str):
        return next(p for p in self.message.walk() if p.get_content_type() == content_type)


class MailServer:
    """aiosmtpd on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Received] = []
        self.refuse: set[str] = set()  # recipients answered 550
        self._controller = None

    def start(self) -> MailServer:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):  # noqa: N802
                if address in server.refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
                server.messages.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
                )
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def connection(self, timeout: int = 5) -> str:
        """``AIRFLOW_CONN_SMTP_DEFAULT`` for this server: plain SMTP, a timeout, no retries."""
        extra = {
            "disable_ssl": True,
            "disable_tls": True,
            "from_email": "vigia@example.org",
            "timeout": timeout,
            "retry_limit": 0,
        }
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "extra": extra})


@pytest.fixture
def mail(monkeypatch):
    server = MailServer().start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded_db(tmp_path_factory) -> Path:
    """One real cycle over the sample web plus the hostile story, done once; tests copy the file."""
    directory = tmp_path_factory.mktemp("alerts-cycle")
    site = hostile_site(directory)
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base, site_file=site))
        settings = make_settings(directory, sample_feeds_toml(web.base, site_file=site))
        ingest.run_once(settings)
    return settings.db_path


@pytest.fixture
def settings(tmp_path, loaded_db):
    db = tmp_path / "vigia.duckdb"
    shutil.copyfile(loaded_db, db)
    return replace(make_settings(tmp_path, ""), db_path=db, alert_to=RECIPIENTS)


def rows(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def execute(settings, sql, params=None):
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(sql, params or [])


# ---------------------------------------------------------------- the digest


def test_one_digest_with_escaped_html_text_part_and_inline_chart(settings, mail):
    queued = jobs.queue_alerts(settings)
    assert [a.kind for a in queued.alerts] == ["digest"]
    result = jobs.send_pending(settings)
    assert result["sent"] == 1 and result["pending"] == 0 and result["error"] is None
    assert len(mail.messages) == 1
    got = mail.messages[0]
    assert sorted(got.rcpt_tos) == ["ana@example.org", "luis@example.org"]
    msg = got.message
    relevant = rows(settings, "select count(distinct story_id) from relevant_articles")[0][0]
    assert msg["Subject"].startswith(f"Vigía: {relevant} historias relevantes nuevas · ")  # VIGIA_LANGUAGE=es
    assert msg["Auto-Submitted"] == "auto-generated"

    html_part = got.part("text/html").get_content()
    assert "<script" not in html_part and "<b>balean" not in html_part
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html_part
    assert "&amp; &quot;cobran&quot;" in html_part
    text = got.part("text/plain").get_content()
    assert "Extorsionadores <b>balean</b> combi en Callao" in text  # plain text shows it as it is
    # Grouped by topic, then department; every story with its outlets, links, time and score.
    assert "== Extorsión y cobro de cupos" in text and "-- La Libertad --" in text
    assert "puntaje 1.00" in text and "(Lima)" in text and "diario-sur: http://127.0.0.1:" in text
    # The chart is inline: the HTML points at the Content-ID of the PNG part.
    png = got.part("image/png")
    assert png["Content-ID"] == "<trend-chart@vigia>" and 'src="cid:trend-chart@vigia"' in html_part
    assert png.get_content()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_hostile_title_yields_one_clean_subject_and_no_extra_recipient(settings, mail):
    # The cycle already folded CR/LF into spaces; write the raw title into the row, as a future code
    # path or a hand edit could, to check the last line of defence.
    execute(settings, "update articles set title = ? where title like '%pwned%'", [HOSTILE_TITLE])
    # Only that story is new: the digest's subject leads with it.
    execute(
        settings,
        "insert into alert_stories select story_id, 'earlier', now() from relevant_articles"
        " where title not like 'X%' group by story_id",
    )
    jobs.queue_alerts(settings)
    jobs.send_pending(settings)
    (got,) = mail.messages
    assert sorted(got.rcpt_tos) == ["ana@example.org", "luis@example.org"]
    header_block = got.raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "\nBcc" not in header_block and "evil" not in "".join(got.rcpt_tos)
    assert len(got.message.get_all("Subject")) == 1 and got.message.get_all("Bcc") is None
    subject = got.message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith(
        "Vigía: 1 historia relevante nueva · Extorsión y cobro de cupos · "
        'X Bcc: evil@example.org <script>alert("pwned")</script> Extorsionadores'
    )


def test_nothing_new_sends_nothing_and_a_story_is_never_mailed_twice(settings, mail, tmp_path):
    jobs.queue_alerts(settings)
    jobs.send_pending(settings)
    assert len(mail.messages) == 1
    assert jobs.queue_alerts(settings).alerts == []
    assert jobs.send_pending(settings)["sent"] == 0
    # A second real cycle over the same web (all 304s) adds nothing to mail either.
    site = hostile_site(tmp_path)
    with LocalWeb() as web:
        web.routes.update(sample_site(web.base, site_file=site))
        cycle = replace(
            make_settings(tmp_path, sample_feeds_toml(web.base, site_file=site)), db_path=settings.db_path
        )
        ingest.run_once(cycle)
    assert jobs.queue_alerts(settings).alerts == []
    assert len(mail.messages) == 1
    mailed = rows(settings, "select count(*), count(distinct story_id) from alert_stories")[0]
    assert mailed[0] == mailed[1] > 0


def test_per_recipient_filters_split_the_digest(settings, mail):
    filters = {
        "ana@example.org": {"departments": ["La Libertad"], "min_score": 0.5},
        "luis@example.org": {"topics": ["state_of_emergency"], "ops": False},
    }
    settings = replace(settings, alert_filters=json.dumps(filters))
    jobs.queue_alerts(settings)
    jobs.send_pending(settings)
    by_rcpt = {tuple(m.rcpt_tos): m for m in mail.messages}
    assert set(by_rcpt) == {("ana@example.org",), ("luis@example.org",)}
    ana = by_rcpt[("ana@example.org",)].part("text/plain").get_content()
    luis = by_rcpt[("luis@example.org",)].part("text/plain").get_content()
    assert "Trujillo" in ana and "Pataz" in ana and "San Juan de Lurigancho" not in ana  # La Libertad only
    assert "estado de emergencia" in luis and "Trujillo" not in luis and "Pataz" not in luis
    assert ana.startswith("Vigía: 2 historias relevantes nuevas")


def test_no_recipients_mails_nothing_and_keeps_the_stories_for_later(settings, mail):
    assert jobs.queue_alerts(replace(settings, alert_to="")).alerts == []
    assert rows(settings, "select count(*) from alert_stories") == [(0,)]
    assert [a.kind for a in jobs.queue_alerts(settings).alerts] == ["digest"]


def test_preview_records_nothing(settings):
    queued = jobs.queue_alerts(settings, dry_run=True)
    assert [a.kind for a in queued.alerts] == ["digest"]
    assert rows(settings, "select count(*) from alert_stories") == [(0,)]
    assert rows(settings, "select count(*) from alert_outbox") == [(0,)]


def test_the_cli_previews_queues_sends_and_reports(settings, mail, tmp_path):
    env = dict(os.environ, VIGIA_DB=str(settings.db_path), VIGIA_ALERT_TO=RECIPIENTS)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "pipeline", "alerts", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )

    preview = cli("preview", "--out", str(tmp_path / "preview"))
    assert preview.returncode == 0, preview.stderr
    assert "Subject: Vigía: 6 historias relevantes nuevas" in preview.stdout
    assert (tmp_path / "preview" / "01-digest.eml").stat().st_size > 10_000  # with the chart
    assert cli("queue").returncode == 0
    mail.stop()
    down = cli("send")
    assert down.returncode == 4 and json.loads(down.stdout.splitlines()[-1])["pending"] == 1
    mail.start()
    assert cli("send").returncode == 0 and len(mail.messages) == 1
    assert "sent      digest" in cli("status").stdout


# ---------------------------------------------------------------- the outbox under SMTP trouble


def test_smtp_down_keeps_the_digest_pending_then_sends_it_once(settings, mail):
    mail.stop()
    jobs.queue_alerts(settings)
    result = jobs.send_pending(settings)  # refused at once: "unavailable", not a 5 s "timed out"
    assert result["sent"] == 0 and result["pending"] == 1 and "unavailable" in result["error"]
    assert rows(settings, "select attempts, sent_at is null, last_error is not null from alert_outbox") == [
        (1, True, True)
    ]
    mail.start()  # the server is back, on the same port
    assert jobs.send_pending(settings)["sent"] == 1
    assert jobs.send_pending(settings)["sent"] == 0
    assert len(mail.messages) == 1


@pytest.mark.timeout(60)  # the connection's 2 s timeout must end the wait
def test_a_hanging_smtp_server_costs_one_timeout_and_loses_nothing(settings, monkeypatch):
    # Accepts connections and never says a word.
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept_all():
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept_all, daemon=True).start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": listener.getsockname()[1],
        "extra": {
            "disable_ssl": True,
            "disable_tls": True,
            "from_email": "vigia@example.org",
            "timeout": 2,
            "retry_limit": 0,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
    jobs.queue_alerts(settings)
    result = jobs.send_pending(settings)  # bounded by the connection's 2 s timeout (or this test's)
    listener.close()
    for conn in accepted:
        conn.close()
    assert len(accepted) == 1, "one connection, one timeout: no retry, no second message tried"
    assert result["pending"] == 1 and result["sent"] == 0 and "timed out" in result["error"]


def test_a_send_recorded_only_in_the_journal_is_not_sent_again(settings, mail):
    """The process died between the server's 250 and the database update."""
    jobs.queue_alerts(settings)
    (alert_id,) = [r[0] for r in rows(settings, "select alert_id from alert_outbox")]
    outbox.journal_path(settings).write_text(f"{alert_id}\t{datetime.now(UTC).isoformat()}\n")
    result = jobs.send_pending(settings)
    assert result["sent"] == 0 and result["pending"] == 0
    assert mail.messages == []
    assert not outbox.journal_path(settings).exists()


def test_a_refused_message_is_retried_then_given_up_while_others_go_out(settings, mail):
    settings = replace(settings, alert_max_attempts=2)
    mail.refuse.add("luis@example.org")
    filters = {"luis@example.org": {"topics": ["extortion"]}}
    jobs.queue_alerts(replace(settings, alert_filters=json.dumps(filters)))  # two digests: ana's, luis's
    first = jobs.send_pending(settings)
    assert (first["sent"], first["rejected"], first["pending"]) == (1, 1, 1)
    second = jobs.send_pending(settings)
    assert (second["rejected"], second["given_up"], second["pending"]) == (1, 1, 0)
    assert [m.rcpt_tos for m in mail.messages] == [["ana@example.org"]]
    assert rows(settings, "select count(*) from alert_outbox where given_up_at is not null") == [(1,)]


# ---------------------------------------------------------------- spikes, quiet feeds, freshness


def _add_story(con, n: int, when: datetime, outlet: str, topic: str, ubigeo: str) -> None:
    article = f"synthetic-{n}"
    con.execute(
        "insert into articles (article_id, url, feed, title, published_at, fetched_at, extraction_status,"
        " entry_hash, content_hash, first_seen_at, updated_at)"
        " values (?, ?, ?, ?, ?, ?, 'ok', 'h', 'h', ?, ?)",
        [article, f"https://{outlet}.example/{n}", outlet, f"Historia {n}", when, when, when, when],
    )
    con.execute(
        "insert into classifications (article_id, model_version, score, is_relevant, topics, departments,"
        " primary_department, classified_at) values (?, 'synthetic', 0.9, true, [?], [?], ?, ?)",
        [article, topic, ubigeo, ubigeo, when],
    )
    con.execute(
        "insert into article_stories (article_id, story_id, event_at, outlet, matched_by, assigned_at)"
        " values (?, ?, ?, ?, 'first', ?)",
        [article, article, when, outlet, when],
    )


@pytest.fixture
def spiking_db(tmp_path):
    """20 days of one extortion story every other day in Piura, then 5 today from 5 outlets."""
    settings = make_settings(tmp_path, "", alert_to=RECIPIENTS)
    jobs.queue_alerts(settings)  # creates and migrates the database
    now = datetime.now(UTC)
    with duckdb.connect(str(settings.db_path)) as con:
        for day in range(20, 0, -2):
            _add_story(con, day, now - timedelta(days=day), "outlet-a", "extortion", "20")
        for i in range(5):
            _add_story(con, 100 + i, now - timedelta(seconds=5), f"outlet-{i}", "extortion", "20")
        trends.refresh_trends(con, [], now)  # what a load does for the trend views
    return settings, now


def test_a_spike_is_mailed_once_then_not_again_within_the_cool_down(spiking_db, mail):
    settings, now = spiking_db
    queued = jobs.queue_alerts(settings, now=now)
    (spike,) = [a for a in queued.alerts if a.kind == "spike"]
    assert "2 spikes today" in spike.email.subject and "Extortion" in spike.email.subject
    assert "Piura" in spike.email.subject
    assert not [
        a for a in jobs.queue_alerts(settings, now=now + timedelta(minutes=15)).alerts if a.kind == "spike"
    ]
    jobs.send_pending(settings)
    assert sum("spike" in m.message["Subject"] for m in mail.messages) == 1

    with duckdb.connect(str(settings.db_path)) as con:
        spikes = detect.todays_spikes(con, now)
        cooldown = timedelta(hours=24)
        assert detect.spikes_to_alert(con, [], now + timedelta(hours=2), cooldown) == []  # episode over
        assert detect.spikes_to_alert(con, spikes, now + timedelta(hours=3), cooldown) == []  # cooling down
        detect.spikes_to_alert(con, [], now + timedelta(hours=4), cooldown)
        assert detect.spikes_to_alert(con, spikes, now + timedelta(hours=25), cooldown) == spikes


def test_a_failing_feed_raises_one_alert_and_one_recovery(settings, mail):
    execute(
        settings,
        "update feeds set consecutive_failures = 3, last_error = 'HTTP 500' where name = 'lima-post'",
    )
    first = [a for a in jobs.queue_alerts(settings).alerts if a.kind == "feeds"]
    assert [a.email.subject for a in first] == ["Vigía: feed lima-post is quiet"]
    assert "failed 3 fetches in a row: HTTP 500" in first[0].email.text
    execute(settings, "update feeds set consecutive_failures = 4 where name = 'lima-post'")
    assert not [a for a in jobs.queue_alerts(settings).alerts if a.kind == "feeds"]
    execute(
        settings,
        "update feeds set consecutive_failures = 0, last_success_at = now() where name = 'lima-post'",
    )
    back = [a for a in jobs.queue_alerts(settings).alerts if a.kind == "feeds"]
    assert [a.email.subject for a in back] == ["Vigía: feed lima-post is back"]
    assert not [a for a in jobs.queue_alerts(settings).alerts if a.kind == "feeds"]
    jobs.send_pending(settings)
    subjects = [m.message["Subject"] for m in mail.messages]
    assert (
        subjects.count("Vigía: feed lima-post is quiet") == 1
        and subjects.count("Vigía: feed lima-post is back") == 1
    )


def test_a_feed_silent_far_longer_than_its_rhythm_is_quiet(settings):
    now = datetime.now(UTC)
    # noticias-norte brought 4 new items every 6 hours for 10 days, then nothing for 30 hours.
    with duckdb.connect(str(settings.db_path)) as con:
        last = now - timedelta(hours=30)
        for k in range(40):
            con.execute(
                "insert into fetches (run_id, feed, url, started_at, outcome, new_items)"
                " values (?, ?, 'u', ?, 'ok', 4)",
                [f"old-{k}", "noticias-norte", last - timedelta(hours=6 * k)],
            )
        con.execute("update feeds set last_new_item_at = ? where name = 'noticias-norte'", [last])
    quiet = [a for a in jobs.queue_alerts(settings, now=now).alerts if a.kind == "feeds"]
    assert [a.email.subject for a in quiet] == ["Vigía: feed noticias-norte is quiet"]
    assert "no new item for 30.0 h (usually one every 1.5 h; alert after 12.0 h)" in quiet[0].email.text


def test_freshness_stale_once_and_fresh_once(settings):
    (last,) = rows(settings, "select max(finished_at) from runs")[0]
    kinds = lambda q: [a.email.subject for a in q.alerts]  # noqa: E731
    assert kinds(jobs.check_freshness(settings, now=last + timedelta(minutes=30))) == []
    stale = jobs.check_freshness(settings, now=last + timedelta(hours=2))
    assert kinds(stale) == ["Vigía: no successful load for 2.0 h"]
    assert kinds(jobs.check_freshness(settings, now=last + timedelta(hours=3))) == []
    execute(
        settings,
        "insert into runs (run_id, started_at, finished_at) values ('later', ?, ?)",
        [last + timedelta(hours=3), last + timedelta(hours=3)],
    )
    assert kinds(jobs.check_freshness(settings, now=last + timedelta(hours=3, minutes=5))) == [
        "Vigía: loads have resumed"
    ]
