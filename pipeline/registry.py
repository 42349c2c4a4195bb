"""feeds.toml, the feed registry: read, checked whole, and guarded against emptying by mistake.

A registry the operator got wrong must stop the cycle with one line that says where, never be
half understood: an empty or comment-only file, a misspelt table (``[[feeds]]``) or key
(``enable = false``), a value of the wrong kind, a URL with spaces, credentials or an impossible
port are each a ConfigError naming the file, the line and the key (exit 2), before anything is
downloaded or written. A UTF-8 byte-order mark, which Windows editors add, is accepted.

Which feeds are enabled is compared with the database's at every cycle (``check_disabling``): a
change that disables more than half of the enabled feeds at once is refused unless the operator
says so (``VIGIA_ALLOW_MASS_DISABLE`` or ``run --allow-mass-disable``).

A registry of 100,000 feeds takes seconds to parse and check, so it is read in proportion to its
changes: ``read_registry`` reads the bytes and keys them (``Registry.key``: the checking rules'
version and a SHA-256 of the bytes, milliseconds for 7 MB); the load records the key of the
registry it applied in the database, beside the ``feeds`` table it made of it
(``registry_applied``). A registry whose key is the one applied is the ``feeds`` table already:
it is not parsed, checked, upserted or compared again. Any other byte, or other rules, is a new key:
the file is parsed and checked whole, with every message as before. The database is the only
cache, written in the same transaction as the feeds it describes, so it cannot say more than it
holds; a key it holds that is not one this version makes (damaged, older rules) matches nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.records import Feed
from pipeline.urls import BadURL, parse_http_url

# A registry of 100,000 feeds is about 7 MB (Media Cloud's 180,000 would be 13 MB); /dev/zero is not one.
MAX_BYTES = 32 << 20
FEED_KEYS = ("name", "url", "language", "enabled")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")
_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]\s#]+)\s*\]")
_KEY = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
# The version of the checks below: bump it when a rule changes, so that a registry applied under the
# old rules is checked again under the new ones (its key changes).
RULES = 1


@dataclass(frozen=True, eq=False)
class Registry:
    """feeds.toml's bytes as read, keyed; parsed and checked only when asked (``feeds``)."""

    path: Path
    raw: bytes = field(repr=False)
    key: str  # "v<RULES>:<sha256 of the bytes>"
    _parsed: list[list[Feed]] = field(default_factory=list, repr=False)

    def feeds(self) -> list[Feed]:
        """The feeds, parsed and checked whole (once per object); ConfigError names the first problem."""
        if not self._parsed:
            self._parsed.append(parse_registry(self.path, self.raw))
        return list(self._parsed[0])

    @property
    def parsed(self) -> bool:
        return bool(self._parsed)


def registry_key(raw: bytes) -> str:
    return f"v{RULES}:{hashlib.sha256(raw).hexdigest()}"


def read_registry(path: Path) -> Registry:
    """The registry's bytes and key (ConfigError if it cannot be read or is too large); not parsed."""
    raw = _read_bytes(path)
    return Registry(path, raw, registry_key(raw))


def load_feeds(path: Path) -> list[Feed]:
    """Read and check the feed registry; raise ConfigError naming the first problem found."""
    return read_registry(path).feeds()


def parse_registry(path: Path, raw: bytes) -> list[Feed]:
    """The feeds of a registry's bytes, checked whole; ConfigError naming the first problem found."""
    text = _decode(path, raw)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        reason = _TOML_LINE.sub("", str(exc)).strip()
        raise ConfigError(f"{where}: not valid TOML: {reason}") from exc
    lines = _Lines(text)
    for key in data:
        if key != "feed":
            hint = " (did you mean [[feed]]?)" if difflib.get_close_matches(key, ["feed"], cutoff=0.6) else ""
            raise ConfigError(
                f"{path}:{lines.top(key)}: unknown table or key {key!r}{hint};"
                " the registry holds [[feed]] tables"
            )
    entries = data.get("feed")
    if entries is None:
        raise ConfigError(
            f"{path}:1: no [[feed]] table: an empty registry would stop every feed "
            "(to pause them all, keep them with enabled = false and VIGIA_ALLOW_MASS_DISABLE=true)"
        )
    if not isinstance(entries, list):
        raise ConfigError(f"{path}:{lines.top('feed')}: 'feed' must be [[feed]] tables, not a single value")
    feeds: list[Feed] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries, 1):
        feed = _feed(path, lines, i, entry)
        if feed.name in seen:
            raise ConfigError(
                f"{path}:{lines.key(i, 'name')}: feed #{i}: name {feed.name!r}"
                f" is already used by feed #{seen[feed.name]}"
            )
        seen[feed.name] = i
        feeds.append(feed)
    if not feeds:
        raise ConfigError(f"{path}:{lines.top('feed')}: the registry lists no feed")
    return feeds


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigError(f"feed registry {path} not found") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"feed registry {path} is a directory, not a file") from exc
    except OSError as exc:
        raise ConfigError(f"feed registry {path} cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"feed registry {path} is larger than {MAX_BYTES >> 20} MiB: not a registry")
    return raw


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # a leading byte-order mark is dropped
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from exc


def _feed(path: Path, lines: _Lines, i: int, entry: Any) -> Feed:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}:{lines.table(i)}: feed #{i} is not a table")
    name = entry.get("name")
    label = f"feed {name!r}" if isinstance(name, str) and name else f"feed #{i}"

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{path}:{lines.key(i, key)}: {label}: {message}")

    for key in entry:
        if key not in FEED_KEYS:
            close = difflib.get_close_matches(key, FEED_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise fail(key, f"unknown key {key!r}{hint}; a feed has {', '.join(FEED_KEYS)}")
    if name is None:
        raise ConfigError(f"{path}:{lines.table(i)}: feed #{i} has no name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail(
            "name",
            "name must be 1-64 lowercase letters, digits, '_', '-' or '.', starting with a letter"
            f" or digit; got {name!r}",
        )
    url = entry.get("url")
    if url is None:
        raise ConfigError(f"{path}:{lines.table(i)}: {label} has no url")
    if not isinstance(url, str):
        raise fail("url", f"url must be a string, got {url!r}")
    problem = url_problem(url)
    if problem:
        raise fail("url", problem)
    language = entry.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.fullmatch(language)):
        raise fail("language", f"language must be a language tag such as 'es' or 'es-PE', got {language!r}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", f"enabled must be true or false, got {enabled!r}")
    return Feed(name=name, url=url, language=language, enabled=enabled)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a feed's URL, or None."""
    try:
        parts = parse_http_url(url)
    except BadURL as exc:
        return f"url must be an absolute http(s) URL: {exc}"
    if parts.username is not None or parts.password is not None:
        return "url must not hold a user name or password (user:pass@): they would be sent to every redirect"
    return None


class _Lines:
    """Where each table and key of a TOML text is, for messages (tomllib does not say).

    A line scanner, not a parser: it finds ``[[feed]]`` headers and ``key =`` lines, which is all a
    registry has; anything it cannot place is reported at the table's line or the file's first.
    """

    def __init__(self, text: str) -> None:
        self._tops: dict[str, int] = {}
        self._tables: list[int] = []  # line of the i-th [[feed]]
        self._keys: dict[tuple[int, str], int] = {}
        table: str | None = None
        for number, line in enumerate(text.splitlines(), 1):
            header = _HEADER.match(line)
            if header:
                table = header.group(2).strip("\"'")
                self._tops.setdefault(table.split(".", 1)[0], number)
                if header.group(1) == "[[" and table == "feed":
                    self._tables.append(number)
                continue
            key = _KEY.match(line)
            if not key:
                continue
            name = key.group(1).strip("\"'")
            if table is None:
                self._tops.setdefault(name, number)
            elif table == "feed" and self._tables:
                self._keys.setdefault((len(self._tables), name), number)

    def top(self, name: str) -> int:
        return self._tops.get(name, 1)

    def table(self, i: int) -> int:
        return self._tables[i - 1] if 0 < i <= len(self._tables) else self.top("feed")

    def key(self, i: int, name: str) -> int:
        return self._keys.get((i, name), self.table(i))


def check_disabling(enabled_before: Collection[str], feeds: Sequence[Feed], allow: bool, path: Path) -> None:
    """Refuse a registry that disables more than half of the feeds enabled so far, unless ``allow``.

    ``enabled_before``: the names the database has enabled. A feed set ``enabled = false`` or
    removed from the file counts as disabled. A mistake (a truncated file, a bad merge) should not
    silence the monitor without a word; a deliberate change says so.
    """
    if allow or not enabled_before:
        return
    enabled_now = {f.name for f in feeds if f.enabled}
    disabled = sorted(set(enabled_before) - enabled_now)
    if len(disabled) * 2 > len(enabled_before):
        shown = ", ".join(disabled[:5]) + (f" and {len(disabled) - 5} more" if len(disabled) > 5 else "")
        raise ConfigError(
            f"{path}: this change disables {len(disabled)} of the {len(enabled_before)} enabled feeds "
            f"({shown}); if that is meant, run with VIGIA_ALLOW_MASS_DISABLE=true or --allow-mass-disable"
        )
