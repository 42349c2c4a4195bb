"""The trend tables (trend_articles, trend_stories, trend_topics, trend_departments; migrations 003
and 008) brought in step with the stories and the current classifications inside the cycle's load
transaction (``transaction._after_load``), or rebuilt whole by ``pipeline classify`` after a model change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import duckdb

from pipeline import sql
from pipeline.sql import id_filter

log = logging.getLogger(__name__)

FULL_REFRESH_ABOVE = 50_000  # touched articles past which trend facts are rebuilt whole

# counts in one department, the one where it happened (its primary department, migration 008), not in
# every department its texts name (trends/stories.sql).
_FLAT = (
    ("trend_topics", "topic", "topics"),
    ("trend_departments", "ubigeo", "story_departments"),
)


def refresh_trends(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], now: datetime) -> None:
    """Bring trend_articles, trend_stories, trend_topics and trend_departments in step (migrations 003, 008).

    Recomputed: every story with an article among ``article_ids`` or classified since the last
    refresh, all of its articles at once (which one counts the story may change), and the outlet
    flags of every (day, topic) and (day, department) those rows fall in. Everything is rebuilt
    when ``models`` changed or too much was touched. The current decision is the one of the
    ``current_classifications`` view: both apply the macro current_decisions."""
    state = sql.execute(con, "trends/state").fetchone()
    (signature,) = sql.execute(con, "trends/models_signature").fetchall()[0]
    (upto,) = sql.execute(con, "trends/classified_upto").fetchall()[0]
    story_ids: list[str] | None = None  # None: every story
    if state is not None and state[1] == signature:
        touched = set(article_ids)
        if state[0] is None or upto is None or upto > state[0]:
            touched.update(
                r[0] for r in sql.execute(con, "trends/classified_since", {"since": state[0]}).fetchall()
            )
        if len(touched) <= FULL_REFRESH_ABOVE:
            with id_filter(con, "article_id", sorted(touched)) as wanted:
                story_ids = [r[0] for r in sql.execute(con, "trends/stories_of", wanted=wanted).fetchall()]
    if story_ids is None:
        _replace_trends(con, "true", "true")
    elif story_ids:
        with id_filter(con, "story_id", story_ids) as stale:
            members = [r[0] for r in sql.execute(con, "trends/members", stale=stale).fetchall()]
            with id_filter(con, "article_id", members) as wanted:
                _replace_trends(con, stale, wanted)
    sql.execute(con, "trends/state_set", {"now": now, "upto": upto, "signature": signature})
    log.info("trends: %s stories refreshed", "all" if story_ids is None else len(story_ids))


def _replace_trends(con: duckdb.DuckDBPyConnection, stale: str, members: str) -> None:
    """Replace the facts of the stories matching ``stale``, whose articles match ``members``."""
    sql.execute(con, "trends/facts", members=members)
    sql.execute(con, "trends/stories", stale=stale)
    for table, key, source in _FLAT:
        sql.execute(con, "trends/flat", table=table, key=key, source=source, stale=stale)
    sql.execute(con, "trends/done")
