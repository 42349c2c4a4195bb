"""The one reader of the environment and of feeds.toml.

Every tunable has its default here, once. ``Settings.from_env()`` reads ``VIGIA_*`` variables;
command-line flags override single fields with ``dataclasses.replace``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.records import Feed

REPO_ROOT = Path(__file__).resolve().parent.parent
# Peru's time, the newsroom's day: UTC-5 all year since 1994 (no time zone database needed).
LIMA = timezone(timedelta(hours=-5), "PET")
VERSION = "0.1.0"
USER_AGENT = f"Vigia/{VERSION} (+https://github.com/vigia-pe/vigia; news monitoring for Peruvian security)"

MAX_SNAPSHOTS = 1000  # each one can hold a whole copy of the database

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_networks(value: str) -> tuple[Network, ...]:
    nets = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ConfigError(f"VIGIA_ALLOW_NETWORKS: {part!r} is not a network in CIDR form") from exc
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
    backoff_max_hours: float = 6.0  # a failing feed is still probed at least this often
    retry_page_attempts: int = 3  # pages that failed transiently are retried on later cycles

    # Parsing and extraction workers
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    parse_timeout: float = 15.0
    extract_timeout: float = 20.0
    # Address-space limit of each worker: real pages need ~60 MB; a 6.5 MB, 150,000-row table would take
    # 640 MB and 14 s. Two workers plus the main process then stay under 1 GB.
    worker_memory_mb: int = 350
    # A worker is replaced after this many tasks, so slow leaks never pile up. Not much more often:
    # a fresh worker costs ~0.6 s of CPU before it runs at speed (copy-on-write faults of the fork
    # server's modules), and on the shared corpus a worker grew only 47 → 56 MB over 250 → 4,000 pages.
    worker_max_tasks: int = 2000

    # Loading
    db_lock_timeout: float = 120.0  # wait this long, with back-off, for another process's lock
    feeds_per_batch: int = 50  # feeds per mapped Airflow task
    snapshots: int = 3  # published analyst copies kept as dated snapshots (pipeline.publication)

    # Alert emails (README, Alert emails). Under Airflow an Airflow Variable of the same VIGIA_* name
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"VIGIA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, f.type)
        # Short names documented in the README.
        if env.get("VIGIA_FEEDS"):
            values["feeds_path"] = Path(env["VIGIA_FEEDS"])
        if env.get("VIGIA_DB"):
            values["db_path"] = Path(env["VIGIA_DB"])
        if env.get("VIGIA_ANALYST_DB"):
            values["analyst_db_path"] = Path(env["VIGIA_ANALYST_DB"])
        if env.get("VIGIA_STAGING"):
            values["staging_dir"] = Path(env["VIGIA_STAGING"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.store not in ("duckdb", "ducklake"):
            raise ConfigError(f"VIGIA_STORE must be 'duckdb' or 'ducklake', not {settings.store!r}")
        if not 0 <= settings.snapshots <= MAX_SNAPSHOTS:
            raise ConfigError(
                f"VIGIA_SNAPSHOTS must be between 0 and {MAX_SNAPSHOTS}, not {settings.snapshots}"
            )
        return settings


def _convert(name: str, raw: str, type_name: object) -> object:
    text = str(type_name)
    try:
        if name == "allow_networks":
            return _parse_networks(raw)
        if "Path" in text:
            return Path(raw)
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"VIGIA_{name.upper()}={raw!r} is not a valid {text}") from exc
    return raw


_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def load_feeds(path: Path) -> list[Feed]:
    """Read the feed registry; raise ConfigError naming the first problem found."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"feed registry {path} not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"feed registry {path} is not valid TOML: {exc}") from exc
    entries = data.get("feed", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected [[feed]] tables")
    feeds: list[Feed] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, 1):
        where = f"{path}: feed #{i}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table")
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{where}: name must be lowercase letters, digits, '_', '-' or '.', got {name!r}"
            )
        if name in seen:
            raise ConfigError(f"{where}: duplicate name {name!r}")
        if (
            not isinstance(url, str)
            or urlsplit(url).scheme not in ("http", "https")
            or not urlsplit(url).hostname
        ):
            raise ConfigError(f"{where} ({name}): url must be an absolute http(s) URL, got {url!r}")
        language = entry.get("language")
        if language is not None and not isinstance(language, str):
            raise ConfigError(f"{where} ({name}): language must be a string")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where} ({name}): enabled must be true or false")
        seen.add(name)
        feeds.append(Feed(name=name, url=url, language=language, enabled=enabled))
    return feeds
