-- quiet: the feeds of the cycle that answered a clean 304 again (`_stage_fetches`, `_stage_states`):
-- 304 with no error and nothing new, after a last outcome that was already a clean 304, with a state
-- (URL, validators, failures, back-off, full-fetch time) as stored. Only their two times move
-- (load/feed_states.sql) and they get no `fetches` row (load/fetches.sql): most feeds of a large
-- registry, most cycles. `repeated`: the same poll loaded again (a load retried), not counted twice.
create or replace temp table _quiet as
select x.feed, x.started_at, feeds.last_fetch_at is not distinct from x.started_at as repeated
from _stage_states s
join _stage_fetches x on x.feed = s.name
join feeds on feeds.name = s.name
where x.outcome = 'not_modified' and x.status_code = 304 and x.error is null and x.new_items = 0
  and feeds.last_outcome = 'not_modified' and feeds.last_status_code = 304
  and feeds.last_error is null and feeds.gone_at is null and not s.gone
  and s.url = feeds.url and s.etag is not distinct from feeds.etag
  and s.last_modified is not distinct from feeds.last_modified
  and s.consecutive_failures = feeds.consecutive_failures
  and s.next_fetch_at is not distinct from feeds.next_fetch_at
  and s.last_full_fetch_at is not distinct from feeds.last_full_fetch_at
