-- feed_states: what each feed of the cycle remembers for the next one (`_stage_states`), and its last
-- request (`_stage_fetches`). "requested": an HTTP request was sent (a deferred feed, or one already
-- known gone, was not asked), so only those change the last outcome.
-- Two statements: a feed that answered a clean 304 again (`_quiet`, load/quiet.sql: most feeds of a
-- large registry, most cycles) has only its two times moved and its clean 304s counted (it has no
-- `fetches` row); every other feed polled has its whole state stored, and its count of clean 304s
-- starts again after the row load/fetches.sql wrote for it. Each feed is written by one of them.
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
    last_new_item_at = case when x.new_items > 0 then x.started_at else feeds.last_new_item_at end,
    quiet_polls = 0,
    logged_at = x.started_at
from _stage_states s
join (
    select *, outcome <> 'deferred' and not (outcome = 'gone' and status_code is null) as requested
    from _stage_fetches
) x on x.feed = s.name
where feeds.name = s.name
  and s.name not in (select feed from _quiet);

update feeds set
    last_fetch_at = q.started_at,
    last_success_at = q.started_at,
    quiet_polls = coalesce(feeds.quiet_polls, 0) + 1
from _quiet q
where feeds.name = q.feed and not q.repeated;
