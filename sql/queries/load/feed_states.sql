-- feed_states: what each feed of the cycle remembers for the next one (`_stage_states`), and its last
-- request (`_stage_fetches`). "requested": an HTTP request was sent (a deferred feed, or one already
-- known gone, was not asked), so only those change the last outcome.
-- Two statements: a feed that answered 304 again with its state as stored and its last outcome
-- already a clean 304 (most feeds of a large registry, most cycles) has only its two times moved;
-- every other feed polled has its whole state stored. The first runs before the second, and the
-- second's condition is the first's exclusion, so each feed is written by one of them.
update feeds set
    url = s.url,
    etag = s.etag,
    last_modified = s.last_modified,
    consecutive_failures = s.consecutive_failures,
    next_fetch_at = s.next_fetch_at,
    last_full_fetch_at = s.last_full_fetch_at,
    gone_at = case when s.gone then coalesce(feeds.gone_at, x.started_at) end,
    last_fetch_at = case when x.requested then x.started_at else feeds.last_fetch_at end,
    last_outcome = case when x.requested then x.outcome else feeds.last_outcome end,
    last_status_code = case when x.requested then x.status_code else feeds.last_status_code end,
    last_error = case when x.requested then x.error else feeds.last_error end,
    last_success_at = case when x.outcome in ('ok', 'not_modified') then x.started_at
                           else feeds.last_success_at end,
    last_new_item_at = case when x.new_items > 0 then x.started_at else feeds.last_new_item_at end
from _stage_states s
join (
    select *, outcome <> 'deferred' and not (outcome = 'gone' and status_code is null) as requested
    from _stage_fetches
) x on x.feed = s.name
where feeds.name = s.name
  and not (
      x.outcome = 'not_modified' and x.status_code = 304 and x.error is null and x.new_items = 0
      and feeds.last_outcome = 'not_modified' and feeds.last_status_code = 304
      and feeds.last_error is null and feeds.gone_at is null and not s.gone
      and s.url = feeds.url and s.etag is not distinct from feeds.etag
      and s.last_modified is not distinct from feeds.last_modified
      and s.consecutive_failures = feeds.consecutive_failures
      and s.next_fetch_at is not distinct from feeds.next_fetch_at
      and s.last_full_fetch_at is not distinct from feeds.last_full_fetch_at
  );

update feeds set
    last_fetch_at = x.started_at,
    last_success_at = x.started_at
from _stage_states s
join _stage_fetches x on x.feed = s.name
where feeds.name = s.name
  and (
      x.outcome = 'not_modified' and x.status_code = 304 and x.error is null and x.new_items = 0
      and feeds.last_outcome = 'not_modified' and feeds.last_status_code = 304
      and feeds.last_error is null and feeds.gone_at is null and not s.gone
      and s.url = feeds.url and s.etag is not distinct from feeds.etag
      and s.last_modified is not distinct from feeds.last_modified
      and s.consecutive_failures = feeds.consecutive_failures
      and s.next_fetch_at is not distinct from feeds.next_fetch_at
      and s.last_full_fetch_at is not distinct from feeds.last_full_fetch_at
  );
