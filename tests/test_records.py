"""The records' one serialisation: what the plan task writes, the collect task reads back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipeline.records import Feed, FeedJob, FeedState, jobs_from_json, jobs_to_json


def test_planned_jobs_survive_the_json_file_between_tasks():
    jobs = [
        FeedJob(Feed("andina", "https://andina.pe/rss", "es"), FeedState("andina", "https://andina.pe/rss")),
        FeedJob(
            Feed("larepublica", "https://larepublica.pe/rss"),
            FeedState(
                "larepublica",
                "https://larepublica.pe/feed",
                etag='W/"abc"',
                last_modified="Sat, 05 Dec 2026 03:00:00 GMT",
                consecutive_failures=3,
                next_fetch_at=datetime(2026, 12, 5, 4, 0, tzinfo=UTC),
                last_full_fetch_at=datetime(2026, 12, 4, 23, 30, 15, tzinfo=UTC),
                gone=True,
            ),
        ),
    ]
    assert jobs_from_json(json.loads(json.dumps(jobs_to_json(jobs)))) == jobs
