"""Who gets which alert: recipients, per-recipient filters, thresholds.

Everything comes from ``Settings`` (``VIGIA_*`` environment variables). Inside an Airflow task,
``with_airflow_variables`` lets an Airflow Variable of the same name (``VIGIA_ALERT_TO``,
``VIGIA_SPIKE_COOLDOWN_HOURS`` ...) override each alert setting at run time: it can be edited in
the UI without restarting anything. SMTP host and credentials never appear here: they live only in
the Airflow connection ``smtp_conn_id`` (``smtp_default``).

Per-recipient filters, ``VIGIA_ALERT_FILTERS`` (JSON; every key optional)::

    {"ana@example.org":   {"topics": ["extortion", "homicide"], "min_score": 0.8},
     "lucia@example.org": {"departments": ["13", "Piura"], "ops": false}}

* ``topics`` (taxonomy ids) and ``departments`` (ubigeo codes or names): a story is mailed to the
  recipient when it has one of the topics *and* happened in one of the departments listed (its
  primary department; a story with none is judged by every department it names); an absent list
  means "any". A spike passes when its topic or department is listed (or that list is absent).
* ``min_score``: stories the classifier scored lower are left out of that recipient's digest.
* ``ops: false``: no operational mail (task failures, quiet feeds, stale data) for that recipient.

A recipient in ``VIGIA_ALERT_TO`` without an entry gets everything.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.text import fold_accents

log = logging.getLogger(__name__)

# The settings an Airflow Variable may override at run time (all of them alert settings).
ALERT_FIELDS: tuple[str, ...] = (
    "alert_to",
    "alert_from",
    "alert_filters",
    "smtp_conn_id",
    "digest_lookback_hours",
    "digest_max_stories",
    "spike_cooldown_hours",
    "quiet_failed_cycles",
    "quiet_silence_factor",
    "quiet_min_silence_hours",
    "freshness_limit_minutes",
    "alert_max_attempts",
)

# An ASCII addr-spec without quoting or comments: enough for real mailboxes, and nothing in it can
# end a header line or smuggle a second address (no spaces, commas, angle brackets, CR or LF).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_FILTER_KEYS = frozenset({"topics", "departments", "min_score", "ops"})


@dataclass(frozen=True, slots=True)
class RecipientFilter:
    """What one recipient wants. The default wants everything."""

    topics: frozenset[str] = frozenset()  # taxonomy ids; empty = any
    departments: frozenset[str] = frozenset()  # ubigeo codes; empty = any
    min_score: float = 0.0
    ops: bool = True  # task failures, quiet feeds, stale data

    def wants_story(
        self, topics: Iterable[str], departments: Iterable[str], score: float, primary: str | None = None
    ) -> bool:
        """``primary``: where the story happened; when known, the department filter looks at it alone
        (a Pataz story that mentions Lima is not a Lima story), else at every department named."""
        if score < self.min_score:
            return False
        if self.topics and not self.topics.intersection(topics):
            return False
        if not self.departments:
            return True
        return (
            primary in self.departments
            if primary is not None
            else bool(self.departments.intersection(departments))
        )

    def wants_spike(self, dimension: str, key: str) -> bool:
        if dimension == "topic":
            return not self.topics or key in self.topics
        return not self.departments or key in self.departments


EVERYTHING = RecipientFilter()


@dataclass(frozen=True, slots=True)
class AlertConfig:
    recipients: tuple[str, ...]
    filters: tuple[tuple[str, RecipientFilter], ...]  # only recipients that have one
    settings: Settings

    def filter_for(self, address: str) -> RecipientFilter:
        return dict(self.filters).get(address, EVERYTHING)

    def groups(self) -> list[tuple[RecipientFilter, tuple[str, ...]]]:
        """Recipients with the same filter share one message, in the order they were listed."""
        grouped: dict[RecipientFilter, list[str]] = {}
        for address in self.recipients:
            grouped.setdefault(self.filter_for(address), []).append(address)
        return [(f, tuple(addresses)) for f, addresses in grouped.items()]

    @property
    def ops_recipients(self) -> tuple[str, ...]:
        return tuple(a for a in self.recipients if self.filter_for(a).ops)


def check_address(address: str) -> str:
    """The address, stripped, if it is a plain ``local@domain``; else ConfigError."""
    address = address.strip()
    if not _ADDRESS.match(address):
        raise ConfigError(f"not a plain email address (local@domain, ASCII): {address!r}")
    return address


def parse_recipients(text: str) -> tuple[str, ...]:
    """Comma- or semicolon-separated addresses, deduplicated. A malformed one is logged and left out:
    one typo must not stop the mail to everyone else."""
    recipients: list[str] = []
    for part in re.split(r"[,;]", text or ""):
        if not part.strip():
            continue
        try:
            address = check_address(part)
        except ConfigError as exc:
            log.error("VIGIA_ALERT_TO: %s; skipped", exc)
            continue
        if address.lower() not in (r.lower() for r in recipients):
            recipients.append(address)
    return tuple(recipients)


def parse_filters(text: str) -> dict[str, RecipientFilter]:
    """``VIGIA_ALERT_FILTERS``; ConfigError naming the first problem (a typo must not silently
    filter a recipient's mail away)."""
    if not (text or "").strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"VIGIA_ALERT_FILTERS is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("VIGIA_ALERT_FILTERS must be a JSON object: {address: {topics, departments, ...}}")
    from pipeline.classify.taxonomy import TOPIC_IDS

    filters: dict[str, RecipientFilter] = {}
    for address, spec in data.items():
        where = f"VIGIA_ALERT_FILTERS[{address!r}]"
        address = check_address(address)
        if not isinstance(spec, dict) or not set(spec) <= _FILTER_KEYS:
            raise ConfigError(f"{where} must be an object with keys among {sorted(_FILTER_KEYS)}")
        topics = _string_list(spec.get("topics", []), where + ".topics")
        unknown = sorted(set(topics) - set(TOPIC_IDS))
        if unknown:
            raise ConfigError(f"{where}.topics: unknown {unknown}; known: {', '.join(TOPIC_IDS)}")
        departments = [
            department_code(d, where)
            for d in _string_list(spec.get("departments", []), where + ".departments")
        ]
        min_score = spec.get("min_score", 0.0)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise ConfigError(f"{where}.min_score must be a number from 0 to 1")
        ops = spec.get("ops", True)
        if not isinstance(ops, bool):
            raise ConfigError(f"{where}.ops must be true or false")
        filters[address] = RecipientFilter(frozenset(topics), frozenset(departments), float(min_score), ops)
    return filters


def _string_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return value


def _fold(text: str) -> str:
    return fold_accents(text).casefold()


def department_code(value: str, where: str = "department") -> str:
    """An ubigeo code from a code or a name (accents and case ignored): "13", "la libertad", "Áncash"."""
    from pipeline.classify.gazetteer import DEPARTMENTS

    value = value.strip()
    if value in DEPARTMENTS:
        return value
    by_name = {_fold(name): code for code, name in DEPARTMENTS.items()}
    if _fold(value) in by_name:
        return by_name[_fold(value)]
    raise ConfigError(f"{where}: {value!r} is not a department code or name")


def load_config(settings: Settings, strict: bool = True) -> AlertConfig:
    """The alert configuration. ``strict=False`` (failure emails) drops bad filters instead of raising:
    an email about a failed task must not itself fail on a filter typo."""
    recipients = parse_recipients(settings.alert_to)
    try:
        filters = parse_filters(settings.alert_filters)
    except ConfigError:
        if strict:
            raise
        log.exception("VIGIA_ALERT_FILTERS ignored")
        filters = {}
    listed = {r.lower() for r in recipients}
    for address in filters:
        if address.lower() not in listed:
            log.warning("VIGIA_ALERT_FILTERS names %s, who is not in VIGIA_ALERT_TO: ignored", address)
    by_lower = {a.lower(): f for a, f in filters.items()}
    kept = tuple((r, by_lower[r.lower()]) for r in recipients if r.lower() in by_lower)
    return AlertConfig(recipients=recipients, filters=kept, settings=settings)


def with_airflow_variables(settings: Settings) -> Settings:
    """``settings`` with each alert field overridden by a non-empty Airflow Variable ``VIGIA_<FIELD>``.

    Call inside a task or callback only (never at parse time): each read asks Airflow's API.
    """
    from airflow.sdk import Variable

    variables: dict[str, str] = {}
    for name in ALERT_FIELDS:
        key = f"VIGIA_{name.upper()}"
        try:
            value = Variable.get(key, default=None)
        except Exception as exc:  # noqa: BLE001 - no metadata database here: keep the environment's value
            log.warning("Airflow Variable %s could not be read (%s); using the environment", key, exc)
            continue
        if value not in (None, ""):
            variables[key] = str(value)
    if not variables:
        return settings
    # Converted by Settings itself, so a Variable and an environment variable mean the same thing.
    parsed = Settings.from_env(env=variables)
    changes = {n: getattr(parsed, n) for n in ALERT_FIELDS if f"VIGIA_{n.upper()}" in variables}
    return replace(settings, **changes)
