"""The exception tree, and the vocabulary of outcomes recorded for every fetch.

    VigiaError
    ├── ConfigError            feeds.toml or a setting is unusable: the cycle cannot run (exit 2)
    ├── ModelError             a stored classifier version cannot be used (unknown format, missing fields)
    ├── StoreError             the database cannot be used (exit 3)
    │   ├── DatabaseBusy       another process holds the database longer than the lock timeout,
    │   │                      or another cycle is running
    │   └── CorruptDatabase    a file fails verification (header, a block's checksum, a table
    │                          that cannot be read): it is never published
    ├── WorkerError            our worker pool cannot start or broke (never a feed's or page's outcome)
    ├── CycleFailed            every feed (or page) of a cycle failed for one reason of ours (exit 4)
    ├── CollectFailed          the collect stage's own process (an Airflow collect task's child) failed
    └── FetchError             one URL could not be fetched; carries the recorded `outcome`
        ├── Blocked            the address is not allowed (network guard) or the scheme is not http(s)
        ├── TooLarge           the decoded body passed its cap
        ├── FetchTimeout       connect/read timeout or the overall deadline
        ├── ConnectFailed      DNS, refused connection, TLS or protocol failure
        ├── RedirectError      too many redirects, a loop, or a redirect without a usable Location
        ├── DecodeFailed       the body's Content-Encoding is unknown or corrupt
        ├── Deferred           not asked: the cycle's time was up before the request could start
        └── ContentError       the body could not be used: not a feed, unparseable, extraction failed

One bad feed or page raises a FetchError subclass, which the cycle records with its outcome and
skips: those are the sites' faults. Our own faults stop the cycle, so that Airflow retries the task
and mails its failure: ConfigError, StoreError, WorkerError, CycleFailed, CollectFailed, and any
exception that is not a VigiaError (a bug). A FetchError whose cause may be ours (a worker that died
or passed its memory limit, an exception in our own parsing code) is still recorded for its feed or
page, with ``ours`` naming that cause; when every feed of a cycle failed with the same such cause,
the cycle raises CycleFailed instead of recording them (``pipeline.collect.batch``).
"""

from __future__ import annotations

# Every value that `fetches.outcome` and `articles.extraction_status` can take, with its meaning.
OUTCOMES: dict[str, str] = {
    "ok": "fetched and parsed (feeds) or extracted (pages)",
    "not_modified": "the server answered 304 to a conditional request: nothing new, nothing downloaded",
    "feed_only": (
        "stored from the feed's title and summary: the item has no http(s) link, or its page holds "
        "no article text"
    ),
    "http_error": "the server answered an error status (4xx/5xx other than those below)",
    "rate_limited": "429 or 503: waiting for the host's Retry-After before asking again",
    "deferred": "not fetched this cycle: the feed is backing off after failures, or its host asked to wait",
    "gone": "410 Gone: the feed is no longer polled (change its URL in feeds.toml to resume)",
    "timeout": "no answer within the connect/read timeouts or the overall deadline",
    "connect_error": "DNS failure, connection refused or reset, TLS or HTTP protocol error",
    "blocked": "the network guard refused the address (non-public network) or the link's scheme",
    "too_large": "the decoded body passed the size cap",
    "redirect_error": "too many redirects, a redirect loop, or a redirect without a usable Location",
    "not_a_feed": "the body is not RSS/Atom/RDF (an HTML page, say), whatever its content type",
    "decode_error": (
        "the body's Content-Encoding is unknown or corrupt: final for that body (a page is not retried, "
        "a feed is asked again on its next cycle)"
    ),
    "parse_error": (
        "the feed could not be parsed, parsing passed its time limit, or the feed declares nested "
        "entities (an entity-expansion attack such as billion laughs)"
    ),
    "extract_error": "the page could not be decoded or extracted (crash, time or memory limit)",
}

FAILED_FEED_OUTCOMES = frozenset(OUTCOMES) - {"ok", "not_modified", "deferred"}


class VigiaError(Exception):
    """Base class of every error Vigía raises on purpose."""


class ConfigError(VigiaError):
    """The configuration (feeds.toml, an environment setting) cannot be used."""


class ModelError(VigiaError):
    """Stored model params cannot be used (unknown format, missing fields)."""


class StoreError(VigiaError):
    """The database cannot be opened, migrated or written."""


class DatabaseBusy(StoreError):
    """Another process kept the database locked for longer than the lock timeout."""


class CorruptDatabase(StoreError):
    """A database file is damaged: truncated, not DuckDB's, a checksum or a read that fails."""


class WorkerError(VigiaError):
    """The worker pool could not start, or broke: our fault, so the cycle stops (and Airflow retries)."""


class CycleFailed(VigiaError):
    """Every feed (or every page) of a cycle failed for the same reason of ours, such as workers that
    die as they start or a bug in our parsing code: a failed task, not a cycle of recorded failures."""


class CollectFailed(VigiaError):
    """The process that runs an Airflow collect task's batch (``python -m pipeline collect``) failed."""


class FetchError(VigiaError):
    """One URL could not be fetched or used; ``outcome`` is the value recorded for it.

    ``ours``: set when the cause may be ours rather than the site's (a worker that died or passed its
    memory limit, our parsing code raising TypeError); the cycle fails when every feed (or every page
    handed to the workers) failed with one such cause.
    """

    outcome = "connect_error"
    ours: str | None = None

    def __init__(self, message: str, *, status_code: int | None = None, ours: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.ours = ours

    def __reduce__(self):
        # Raised inside worker processes: must survive pickling with its outcome, status and cause.
        return (_rebuild, (type(self), str(self), self.outcome, self.status_code, self.ours))


def _rebuild(
    cls: type[FetchError], message: str, outcome: str, status_code: int | None, ours: str | None = None
) -> FetchError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.outcome = outcome
    error.status_code = status_code
    error.ours = ours
    return error


class Blocked(FetchError):
    outcome = "blocked"


class TooLarge(FetchError):
    outcome = "too_large"


class FetchTimeout(FetchError):
    outcome = "timeout"


class ConnectFailed(FetchError):
    outcome = "connect_error"


class RedirectError(FetchError):
    outcome = "redirect_error"


class DecodeFailed(FetchError):
    """Content-Encoding we cannot undo (unknown, stacked or corrupt): the body itself is bad, so
    asking again for the same body cannot help."""

    outcome = "decode_error"


class Deferred(FetchError):
    """The request never started: the cycle's time was up while it waited for a free slot
    (``reason`` "cycle_time"), or its host asked every request to wait ("host_wait")."""

    outcome = "deferred"
    reason = "cycle_time"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ContentError(FetchError):
    """The body arrived but cannot be used; ``outcome`` is set per instance."""

    def __init__(
        self, message: str, outcome: str, *, status_code: int | None = None, ours: str | None = None
    ) -> None:
        super().__init__(message, status_code=status_code, ours=ours)
        self.outcome = outcome
