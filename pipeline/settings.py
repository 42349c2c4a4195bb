"""The one reader of the environment (and, through ``pipeline.registry``, of feeds.toml).

Every tunable has its default here, once. ``Settings.from_env()`` reads ``VIGIA_*`` variables;
command-line flags override single fields with ``dataclasses.replace``. Every value is checked
when a Settings is made (``__post_init__``, so ``replace`` checks too): a number out of its range,
NaN or infinite, a string with control characters, a network in CIDR form with host bits set, an
unknown ``VIGIA_*`` variable: each is a ConfigError naming the variable (exit 2), before anything
is downloaded or written.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta, timezone
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.registry import load_feeds

__all__ = ["LIMA", "REPO_ROOT", "USER_AGENT", "VERSION", "Network", "Settings", "load_feeds"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Peru's time, the newsroom's day: UTC-5 all year since 1994 (no time zone database needed).
LIMA = timezone(timedelta(hours=-5), "PET")
VERSION = "0.1.0"
USER_AGENT = f"Vigia/{VERSION} (+https://github.com/vigia-pe/vigia; news monitoring for Peruvian security)"

# How a command and its worker processes write log lines to stderr.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_SNAPSHOTS = 1000  # each one can hold a whole copy of the database

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_networks(value: str) -> tuple[Network, ...]:
    nets = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=True))
        except ValueError as exc:
            hint = ""
            if "host bits set" in str(exc):
                wide = ipaddress.ip_network(part, strict=False)
                address = part.split("/", 1)[0]
                hint = f" (did you mean {wide} or {address}/{wide.max_prefixlen}?)"
            raise ConfigError(
                f"VIGIA_ALLOW_NETWORKS: {part!r} is not an exact network in CIDR form: {exc}{hint}"
            ) from exc
    return tuple(nets)


@dataclass(frozen=True)
class Settings:
    # Where things are
    feeds_path: Path = Path("feeds.toml")
    db_path: Path = Path("data/vigia.duckdb")
    analyst_db_path: Path | None = None  # default: <db>.analyst.duckdb beside the database
    staging_dir: Path | None = None  # default: <db dir>/staging
    sql_dir: Path = REPO_ROOT / "sql"
    store: str = "duckdb"  # duckdb | ducklake
    lake_catalog: str = ""  # DuckLake catalog, e.g. "postgres:dbname=vigia host=db user=vigia"
    lake_data_path: str = ""  # where DuckLake writes Parquet files

    # Network
    allow_networks: tuple[Network, ...] = ()
    # A network wider than /8 (IPv4) or /7 (IPv6), e.g. 0.0.0.0/0, opens cloud metadata and every
    # private range: VIGIA_ALLOW_NETWORKS takes one only with this second, explicit setting.
    allow_wide_networks: bool = False
    user_agent: str = USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    feed_deadline: float = 30.0  # whole request, redirects and body included
    page_deadline: float = 30.0
    feed_max_bytes: int = 10 * 1024 * 1024  # decoded
    page_max_bytes: int = 5 * 1024 * 1024  # decoded; real article pages are under 1.5 MB
    max_redirects: int = 5
    concurrency: int = 32  # requests in flight; the web's latency, not the CPU, paces a cycle below this
    per_host_concurrency: int = 2

    # Feed polling policy
    full_fetch_hours: float = 24.0  # a GET without validators at least this often (broken ETags)
    backoff_base_minutes: float = 15.0
    backoff_max_hours: float = 6.0  # a failing feed is still probed at least this often (at most 7 days)
    # Each feed's own rhythm (pipeline/collect/polling.py): the scheduler polls a feed again after half
    # the time since it last had something new, never sooner than poll_min_minutes nor later than
    # poll_max_minutes. poll_max_minutes = 0: every feed is polled on every run (the CLI always does).
    poll_min_minutes: float = 2.0
    poll_max_minutes: float = 60.0
    retry_after_max_hours: float = 168.0  # the longest a Retry-After can park a feed or host (7 days)
    retry_page_attempts: int = 3  # pages that failed transiently are retried on later cycles
    # A collect starts no page download after this many seconds: pages still waiting are deferred
    # to the next cycle (attempts untouched), so a slow host never turns into failed pages.
    collect_budget: float = 480.0
    # Floods: new articles taken from one feed in one cycle (the rest wait, in order, for later
    # cycles), and revisions kept of one article in 24 hours (a later change waits for the next day).
    max_new_per_feed: int = 500
    max_revisions_per_day: int = 10
    # Disabling (or removing) more than half of the enabled feeds in one change of feeds.toml is
    # refused as a likely mistake unless this is set (or `run --allow-mass-disable`).
    allow_mass_disable: bool = False

    # Parsing and extraction workers
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    parse_timeout: float = 15.0
    extract_timeout: float = 20.0
    # Address-space limit of each worker: real pages need ~60 MB; a 6.5 MB, 150,000-row table would take
    # 640 MB and 14 s. Two workers plus the main process then stay under 1 GB. 0: no limit.
    worker_memory_mb: int = 350
    # A worker is replaced after this many tasks, so slow leaks never pile up. Not much more often:
    # a fresh worker costs ~0.6 s of CPU before it runs at speed (copy-on-write faults of the fork
    # server's modules), and on the shared corpus a worker grew only 47 → 56 MB over 250 → 4,000 pages.
    worker_max_tasks: int = 2000

    # Loading
    db_lock_timeout: float = 120.0  # wait this long, with back-off, for another process's lock
    # Threads of each DuckDB database Vigía opens (pipeline/store/connect.py). 0: DuckDB's own
    # default, one per core. Where several processes share the cores (Airflow's parallel tasks, a
    # test suite's workers), one each does the same work in less CPU: DuckDB's threads hand tiny
    # queries back and forth, and those of other processes wait for a core.
    db_threads: int = 0
    feeds_per_batch: int = 50  # feeds per mapped Airflow task
    snapshots: int = 3  # published analyst copies kept as dated snapshots (pipeline.store.publication)
    # A publication writes only the blocks a load changed and checks those; every block and table of
    # the analyst copy is read back at least this often (and after every whole copy). 0: every time.
    publish_verify_minutes: float = 60.0

    # Alert emails (docs/alerts.md). Under Airflow an Airflow Variable of the same VIGIA_* name
    # overrides each of these at run time; the SMTP host and credentials live only in the connection.
    alert_to: str = ""  # recipients, comma-separated
    alert_from: str = ""  # sender; default: the connection's from_email
    alert_filters: str = ""  # JSON per recipient: {"ana@x.pe": {"topics": [..], "min_score": 0.8}}
    smtp_conn_id: str = "smtp_default"
    digest_lookback_hours: float = 48.0  # older stories are never mailed (a new install is not flooded)
    digest_max_stories: int = 60  # listed in one digest; the rest are counted
    spike_cooldown_hours: float = 24.0  # one alert per topic/department spike within this time
    quiet_failed_cycles: int = 3  # a feed failing this many cycles in a row is quiet
    quiet_silence_factor: float = 4.0  # ... or silent this many times its usual gap between items
    quiet_min_silence_hours: float = 12.0  # ... and never for less than this
    freshness_limit_minutes: float = 90.0  # watchdog: no successful load for this long raises an alert
    alert_max_attempts: int = 5  # tries of a message the server rejects (5xx); outages never count
    task_retries: int | None = None  # every Vigía task's retries (0 in tests); None: each DAG's own

    # What Vigía writes for people (the HTML report, the digest email): es | en
    language: str = "es"

    @property
    def analyst_db(self) -> Path:
        if self.analyst_db_path is not None:
            return self.analyst_db_path
        return self.db_path.with_name(self.db_path.stem + ".analyst.duckdb")

    @property
    def staging(self) -> Path:
        return self.staging_dir if self.staging_dir is not None else self.db_path.parent / "staging"

    @property
    def cache_dir(self) -> Path:
        """What can be rebuilt at any time and is kept to save the time (the base model's params)."""
        return self.db_path.parent / "cache"

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        _refuse_unknown(env)
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"VIGIA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, f.type)
        # Short names documented in docs/configuration.md.
        for name, key in SHORT_NAMES.items():
            if env.get(name):
                values[key] = _convert(key, env[name], "Path")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


# Variables with a name other than VIGIA_<FIELD>.
SHORT_NAMES = {
    "VIGIA_FEEDS": "feeds_path",
    "VIGIA_DB": "db_path",
    "VIGIA_ANALYST_DB": "analyst_db_path",
    "VIGIA_STAGING": "staging_dir",
}
# Read elsewhere (the benchmark harness), not settings.
_OTHER_PREFIXES = ("VIGIA_BENCH_",)


def _refuse_unknown(env: Mapping[str, str]) -> None:
    """A misspelt variable (CONCURENCY for CONCURRENCY) would otherwise be ignored without a word."""
    known = set(SHORT_NAMES) | {f"VIGIA_{f.name.upper()}" for f in fields(Settings)}
    for name in env:
        if name.startswith("VIGIA_") and name not in known and not name.startswith(_OTHER_PREFIXES):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{name} is not a Vigía setting{hint}; see docs/configuration.md, Settings")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, raw: str, type_name: object) -> object:
    text = str(type_name)
    variable = _variable(name)
    _check_text(variable, raw)
    try:
        if name == "allow_networks":
            return _parse_networks(raw)
        if "Path" in text:
            return Path(raw)
        if text == "bool":
            if raw.strip().lower() not in _TRUE | _FALSE:
                raise ValueError(raw)
            return raw.strip().lower() in _TRUE
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError as exc:
        kind = {"bool": "true or false", "int": "whole number", "float": "number"}
        expected = next((v for k, v in kind.items() if text.startswith(k)), text)
        raise ConfigError(f"{variable}={raw[:100]!r} is not a {expected}") from exc
    return raw


def _variable(name: str) -> str:
    short = {v: k for k, v in SHORT_NAMES.items()}
    return short.get(name, f"VIGIA_{name.upper()}")


# (lowest, highest) of each number. A value outside, NaN or infinite is a ConfigError.
DAY, WEEK, YEAR = 24.0, 168.0, 8760.0  # in hours
RANGES: dict[str, tuple[float, float]] = {
    "connect_timeout": (0.1, 600),
    "read_timeout": (0.1, 600),
    "feed_deadline": (0.1, 3600),
    "page_deadline": (0.1, 3600),
    "feed_max_bytes": (1024, 1 << 30),
    "page_max_bytes": (1024, 1 << 30),
    "max_redirects": (0, 30),
    "concurrency": (1, 1024),
    "per_host_concurrency": (1, 64),
    "full_fetch_hours": (0, YEAR),
    "backoff_base_minutes": (0, WEEK * 60),
    "backoff_max_hours": (0, WEEK),
    "poll_min_minutes": (0, DAY * 60),
    "poll_max_minutes": (0, DAY * 60),
    "retry_after_max_hours": (0, WEEK),
    "retry_page_attempts": (1, 100),
    "collect_budget": (1, DAY * 3600),
    "max_new_per_feed": (1, 1_000_000),
    "max_revisions_per_day": (1, 1000),
    "workers": (1, 256),
    "parse_timeout": (0.1, 3600),
    "extract_timeout": (0.1, 3600),
    "worker_memory_mb": (0, 1 << 20),
    "worker_max_tasks": (1, 1 << 31),
    "db_lock_timeout": (0, DAY * 3600),
    "db_threads": (0, 1024),
    "feeds_per_batch": (1, 100_000),
    "digest_lookback_hours": (0.1, YEAR),
    "digest_max_stories": (1, 10_000),
    "spike_cooldown_hours": (0, YEAR),
    "quiet_failed_cycles": (1, 100_000),
    "quiet_silence_factor": (0.1, 1000),
    "quiet_min_silence_hours": (0, YEAR),
    "freshness_limit_minutes": (1, YEAR * 60),
    "alert_max_attempts": (1, 1000),
    "task_retries": (0, 100),
    "snapshots": (0, MAX_SNAPSHOTS),
    "publish_verify_minutes": (0, WEEK * 60),
}
# Measured: a worker limited to 60 MB could not parse any of 40 corpus feeds or extract any of 40
# corpus pages, 85-90 MB failed one, 100 MB none. 0 means no limit at all.
MIN_WORKER_MEMORY_MB = 128
# Networks at least this wide (prefix lengths below these) need allow_wide_networks.
WIDE_PREFIX = {4: 8, 6: 7}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_SPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")


def _check_text(variable: str, value: str) -> None:
    # JSON may be spread over lines; nothing else may hold a control character (a CR/LF in a
    # header value ends the header; in a path or log line it forges a new line).
    pattern = _CONTROL_BUT_SPACE if variable == "VIGIA_ALERT_FILTERS" else _CONTROL
    if pattern.search(value):
        raise ConfigError(f"{variable} holds a control character (CR, LF, NUL, ...): {value[:100]!r}")


def _validate(s: Settings) -> None:
    for f in fields(s):
        value = getattr(s, f.name)
        variable = _variable(f.name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            low, high = RANGES[f.name]
            if not math.isfinite(value) or not low <= value <= high:
                kind = "whole number" if isinstance(value, int) else "number"
                raise ConfigError(f"{variable}={value!r}: must be a {kind} from {low:g} to {high:g}")
        elif isinstance(value, str | Path):
            _check_text(variable, str(value))
    if s.poll_max_minutes and s.poll_min_minutes > s.poll_max_minutes:
        raise ConfigError(
            f"VIGIA_POLL_MIN_MINUTES={s.poll_min_minutes:g} is above"
            f" VIGIA_POLL_MAX_MINUTES={s.poll_max_minutes:g}"
        )
    if 0 < s.worker_memory_mb < MIN_WORKER_MEMORY_MB:
        raise ConfigError(
            f"VIGIA_WORKER_MEMORY_MB={s.worker_memory_mb}: a worker needs at least {MIN_WORKER_MEMORY_MB} MB"
            " to parse feeds and extract pages (0 means no limit)"
        )
    if not _HEADER_VALUE.fullmatch(s.user_agent):
        raise ConfigError(f"VIGIA_USER_AGENT must be printable ASCII on one line, got {s.user_agent[:100]!r}")
    if s.store not in ("duckdb", "ducklake"):
        raise ConfigError(f"VIGIA_STORE must be 'duckdb' or 'ducklake', not {s.store!r}")
    if s.language not in ("es", "en"):
        raise ConfigError(f"VIGIA_LANGUAGE must be 'es' or 'en', not {s.language!r}")
    for net in s.allow_networks:
        if net.prefixlen < WIDE_PREFIX[net.version] and not s.allow_wide_networks:
            raise ConfigError(
                f"VIGIA_ALLOW_NETWORKS: {net} opens more than /{WIDE_PREFIX[net.version]}, cloud metadata"
                " and private ranges included: set VIGIA_ALLOW_WIDE_NETWORKS=true as well if that is meant"
            )
