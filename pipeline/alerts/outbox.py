"""The outbox: every email waits in DuckDB (``alert_outbox``) until an SMTP server has accepted it.

    enqueue(con, alerts)   inside the transaction that decided to send them (a retry queues nothing twice)
    flush(settings)        send what is pending through the Airflow SMTP connection

Why it cannot lose or repeat mail, nor hold up a load:

* ``flush`` never holds the database while it talks to SMTP. It reads the pending rows, closes
  the database, sends, then reopens it to mark what went out. An SMTP server that is down or hangs
  (every socket operation has the connection's ``timeout``) costs the flush that timeout once —
  the first failure to connect or to answer ends the flush — and the load, which never waits for
  mail, is not involved at all. The rows stay pending for the next flush.
* Each accepted message is first appended (and fsynced) to a small journal beside the database,
  ``<db>.outbox-sent``; the journal is applied to ``alert_outbox.sent_at`` after the batch, or at
  the start of the next flush if the database was busy or the process died in between. The only
  window for a repeat is between the server's "250 OK" and that fsync.
* One flush at a time: ``<db>.outbox.lock`` (another flush running means this one skips).
* A message the server refuses outright (5xx for its recipients or content) is retried up to
  ``alert_max_attempts`` times, then given up and logged; outages and 4xx never count.
"""

from __future__ import annotations

import contextlib
import email.policy
import fcntl
import hashlib
import logging
import os
import smtplib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import duckdb

from pipeline import sql, store
from pipeline.alerts.config import check_address
from pipeline.alerts.render import CHART_CID, Email, clean_header
from pipeline.errors import ConfigError, VigiaError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

FLUSH_BATCH = 200  # messages per flush; the rest wait for the next one


class MailError(VigiaError):
    """Mail could not be sent.

    MailError
    ├── MailUnavailable   the server cannot be reached or used now (down, timeout, 4xx, login,
    │                     no connection configured): stop, keep everything pending
    └── MailRejected      the server refused this one message (5xx): try the next one
    """


class MailUnavailable(MailError):
    pass


class MailRejected(MailError):
    pass


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str  # '<kind>:<what>'; the same decision always gets the same id
    kind: str  # digest | spike | feeds | freshness | task_failed
    recipients: tuple[str, ...]
    email: Email


@dataclass(frozen=True, slots=True)
class Pending:
    alert_id: str
    kind: str
    recipients: tuple[str, ...]
    email: Email
    rejections: int


@dataclass
class FlushResult:
    sent: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    pending: int = 0  # still waiting after this flush
    error: str | None = None  # why the flush stopped early
    skipped: bool = False  # another flush was running

    def summary(self) -> dict:
        return {
            "sent": len(self.sent),
            "rejected": len(self.rejected),
            "given_up": len(self.given_up),
            "pending": self.pending,
            "error": self.error,
            "skipped": self.skipped,
        }


# ---------------------------------------------------------------- queueing


def enqueue(con: duckdb.DuckDBPyConnection, alerts: Sequence[Alert], now: datetime) -> int:
    """Queue alerts (an id already queued is left as it is). Returns how many rows were added."""
    added = 0
    for a in alerts:
        recipients = [check_address(r) for r in a.recipients]
        if not recipients:
            log.warning("alert %s has no recipient: not queued", a.alert_id)
            continue
        before = _scalar(con, "alerts/outbox_count", {"alert_id": a.alert_id})
        sql.execute(
            con,
            "alerts/outbox_add",
            {
                "alert_id": a.alert_id,
                "kind": a.kind,
                "recipients": recipients,
                "subject": clean_header(a.email.subject),
                "text_body": a.email.text,
                "html_body": a.email.html,
                "chart_png": a.email.chart_png,
                "now": now,
            },
        )
        added += 1 - before
    return added


def pending(con: duckdb.DuckDBPyConnection, limit: int = FLUSH_BATCH) -> list[Pending]:
    rows = sql.execute(con, "alerts/outbox_pending", {"limit": limit}).fetchall()
    return [Pending(r[0], r[1], tuple(r[2]), Email(r[3], r[4], r[5], r[6]), r[7]) for r in rows]


def count_pending(con: duckdb.DuckDBPyConnection) -> int:
    return int(_scalar(con, "alerts/outbox_pending_count"))


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any] | None = None) -> Any:
    row = sql.execute(con, query, params).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------- the message


def build_message(item: Pending, sender: str) -> tuple[EmailMessage, list[str]]:
    """The MIME message and its envelope recipients: text and HTML alternatives, the chart inline."""
    recipients = []
    for address in item.recipients:
        try:
            recipients.append(check_address(address))
        except ConfigError:
            log.error("outbox %s: recipient %r is not a plain address; left out", item.alert_id, address)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = clean_header(
        item.email.subject
    )  # cleaned when queued; again, in case the row was edited
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    # Stable per alert: a client that ever got it twice shows it once.
    digest = hashlib.sha256(item.alert_id.encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<{digest}.vigia@{sender.rpartition('@')[2]}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    msg["X-Vigia-Alert"] = clean_header(item.kind, 40)
    msg.set_content(item.email.text)
    if item.email.html:
        msg.add_alternative(item.email.html, subtype="html")
        if item.email.chart_png:
            html_part = msg.get_body(preferencelist=("html",))  # becomes multipart/related around it
            assert html_part is not None
            html_part.add_related(
                item.email.chart_png,
                maintype="image",
                subtype="png",
                cid=f"<{CHART_CID}>",
                filename="trend-14d.png",
                disposition="inline",
            )
    return msg, recipients


# ---------------------------------------------------------------- SMTP through Airflow's connection


class Transport(Protocol):
    from_email: str | None

    def send(self, msg: EmailMessage, sender: str, recipients: Sequence[str]) -> None: ...


class AirflowSmtp:
    """An open SMTP session from the Airflow connection ``conn_id`` (``with AirflowSmtp(...) as smtp``).

    The provider's ``SmtpHook`` does the connecting: host, port, SSL/STARTTLS, login and the
    ``timeout`` all come from the connection, and credentials nowhere else. Its ``send_email_smtp``
    can only send one HTML part plus attachments, so the message is sent on the hook's client.
    """

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self.from_email: str | None = None
        self._hook: Any = None  # the connected SmtpHook

    def __enter__(self) -> AirflowSmtp:
        try:
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            hook = SmtpHook(smtp_conn_id=self.conn_id)
            hook.get_conn()
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(
                f"SMTP server of connection {self.conn_id!r} unavailable: {_describe(exc)}"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - AirflowException: connection missing or unusable
            raise MailUnavailable(f"SMTP connection {self.conn_id!r} unavailable: {_describe(exc)}") from exc
        self._hook = hook
        self.from_email = hook.from_email
        return self

    def __exit__(self, *exc: object) -> None:
        client = self._hook._smtp_client if self._hook is not None else None
        if client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
            with contextlib.suppress(OSError):
                client.close()
        self._hook = None

    def send(self, msg: EmailMessage, sender: str, recipients: Sequence[str]) -> None:
        try:
            refused = self._hook._smtp_client.send_message(msg, from_addr=sender, to_addrs=list(recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            if _permanent(exc.recipients.values()):
                raise MailRejected(f"every recipient refused: {exc.recipients}") from exc
            raise MailUnavailable(f"recipients deferred: {exc.recipients}") from exc
        except smtplib.SMTPSenderRefused as exc:  # the sender is refused for every message alike
            raise MailUnavailable(f"sender {sender} refused: {_describe(exc)}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise MailRejected(_describe(exc)) from exc
            raise MailUnavailable(_describe(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:  # timeout, reset, disconnected
            raise MailUnavailable(_describe(exc)) from exc
        if refused:
            log.warning("message %s: some recipients refused: %s", msg["Message-ID"], refused)


def _permanent(responses: object) -> bool:
    return all(code >= 500 for code, _ in responses)  # type: ignore[attr-defined]


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__  # the hook wraps socket errors in "Unable to connect"
    if cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text[:500]


# ---------------------------------------------------------------- flushing


def journal_path(settings: Settings) -> Path:
    return settings.db_path.with_name(settings.db_path.name + ".outbox-sent")


@contextlib.contextmanager
def _flush_lock(settings: Settings) -> Iterator[bool]:
    path = settings.db_path.with_name(settings.db_path.name + ".outbox.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _journal_append(path: Path, alert_id: str, when: datetime) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{alert_id}\t{when.isoformat()}\n")
        fh.flush()
        os.fsync(fh.fileno())


def _journal_read(path: Path) -> list[tuple[str, datetime]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        alert_id, _, when = line.partition("\t")
        try:
            entries.append((alert_id, datetime.fromisoformat(when)))
        except ValueError:  # a line cut short by a crash: its id is still worth marking
            entries.append((alert_id, datetime.now(UTC)))
    return entries


def _record(
    con: duckdb.DuckDBPyConnection,
    journal: Path,
    failures: dict[str, tuple[bool, str]],
    max_attempts: int,
    now: datetime,
) -> list[str]:
    """Apply the journal (sent) and the failures ({id: (rejected?, error)}) in one transaction.

    Returns the ids given up."""
    given_up = []
    with store.transaction(con):
        for alert_id, when in _journal_read(journal):
            sql.execute(con, "alerts/outbox_sent", {"sent_at": when, "alert_id": alert_id})
        for alert_id, (rejected, error) in failures.items():
            row = sql.execute(
                con,
                "alerts/outbox_failed",
                {"rejected": int(rejected), "now": now, "error": error, "alert_id": alert_id},
            ).fetchone()
            if rejected and row and row[0] >= max_attempts:
                sql.execute(con, "alerts/outbox_given_up", {"now": now, "alert_id": alert_id})
                given_up.append(alert_id)
                log.error("alert %s given up after %d refusals: %s", alert_id, row[0], error)
    journal.unlink(missing_ok=True)
    return given_up


def flush(
    settings: Settings,
    transport: Callable[[], contextlib.AbstractContextManager[Transport]] | None = None,
    now: datetime | None = None,
) -> FlushResult:
    """Send pending alerts. Never raises because of SMTP: the result says what happened."""
    transport = transport or (lambda: AirflowSmtp(settings.smtp_conn_id))
    journal = journal_path(settings)
    result = FlushResult()
    with _flush_lock(settings) as held:
        if not held:
            log.info("another outbox flush is running; skipped")
            result.skipped = True
            return result
        now = now or datetime.now(UTC)
        with store.open_db(settings) as con:
            _record(
                con, journal, {}, settings.alert_max_attempts, now
            )  # what an earlier flush left in the journal
            items = pending(con)
        failures: dict[str, tuple[bool, str]] = {}
        if items:
            try:
                with transport() as smtp:
                    sender = _sender(settings, smtp.from_email)
                    for item in items:
                        msg, recipients = build_message(item, sender)
                        if not recipients:
                            failures[item.alert_id] = (True, "no valid recipient")
                            continue
                        try:
                            smtp.send(msg, sender, recipients)
                        except MailRejected as exc:
                            failures[item.alert_id] = (True, str(exc))
                            result.rejected.append(item.alert_id)
                            continue
                        _journal_append(journal, item.alert_id, datetime.now(UTC))
                        result.sent.append(item.alert_id)
            except MailUnavailable as exc:
                result.error = str(exc)
                log.warning(
                    "SMTP unavailable, %d alert(s) stay pending: %s", len(items) - len(result.sent), exc
                )
                for item in items:
                    if item.alert_id not in result.sent and item.alert_id not in failures:
                        failures[item.alert_id] = (False, str(exc))
        with store.open_db(settings) as con:
            result.given_up = _record(con, journal, failures, settings.alert_max_attempts, now)
            result.pending = count_pending(con)
    log.info("outbox flush: %s", result.summary())
    return result


def _sender(settings: Settings, connection_from: str | None) -> str:
    sender = settings.alert_from or connection_from or ""
    try:
        return check_address(sender)
    except ConfigError as exc:
        raise MailUnavailable(
            "no usable sender: set VIGIA_ALERT_FROM or from_email in the SMTP connection's extra"
        ) from exc
