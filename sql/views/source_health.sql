-- source_health: is each feed still bringing news?
--
-- One row per feed in `feeds` (removed ones stay, disabled). Columns:
--   feed, enabled, url
--   status                first that applies: disabled | gone (answered 410, no longer polled) |
--                         never_fetched | deferred (backing off after failures, or the host asked
--                         to wait, until deferred_until) | failing (last fetch failed) |
--                         silent (no new item for 48 hours or more) | ok
--   last_fetch_at, last_outcome, last_status_code, last_error   the last request sent
--   last_success_at       last fetch answered ok or 304
--   consecutive_failures  failed fetches in a row
--   deferred_until        next_fetch_at, when still in the future
--   gone_at
--   last_new_item_at      last fetch that brought an item never stored before
--   silent_for            time since then (since the feed was added, if it never brought one)
--   silent_hours          the same in hours
--   fetches_7d, failed_fetches_7d, new_items_7d   over the last 7 days (fetches_7d counts the clean
--                         304s the fetch log keeps no row for: those of a row's `quiet_polls`, and the
--                         feed's own since its last row; a run of them that began before the 7 days is
--                         counted in proportion to its time within them)
--   items_per_day         new_items_7d / 7
-- Times are UTC (timestamptz); "now" is the query's transaction time.

with quiet_runs as (
    -- clean 304s, n of them after `since` up to `until`: each row's, and each feed's since its last row
    select feed, quiet_polls as n, quiet_since as since, quiet_until as until
    from fetches
    where quiet_polls > 0 and quiet_until >= now() - interval 7 days
    union all
    select name, quiet_polls, logged_at, last_fetch_at
    from feeds
    where quiet_polls > 0 and last_fetch_at >= now() - interval 7 days
),

quiet_recent as (
    select
        feed,
        sum(case
            when since is null or since >= now() - interval 7 days then n
            else round(n * (epoch(until) - epoch(now() - interval 7 days)) / (epoch(until) - epoch(since)))
        end)::bigint as polls
    from quiet_runs
    group by feed
),

logged_recent as (
    select
        feed,
        count(*) filter (where outcome <> 'deferred') as fetches_7d,
        count(*) filter (where outcome not in ('ok', 'not_modified', 'deferred')) as failed_fetches_7d,
        coalesce(sum(new_items), 0)::bigint as new_items_7d
    from fetches
    where started_at >= now() - interval 7 days
    group by feed
),

recent_fetches as (
    select
        coalesce(l.feed, q.feed) as feed,
        coalesce(l.fetches_7d, 0) + coalesce(q.polls, 0) as fetches_7d,
        coalesce(l.failed_fetches_7d, 0) as failed_fetches_7d,
        coalesce(l.new_items_7d, 0) as new_items_7d
    from logged_recent l
    full join quiet_recent q using (feed)
),

feed_rows as (
    select
        *,
        now() - coalesce(last_new_item_at, added_at) as silent_for
    from feeds
),

final as (
    select
        f.name as feed,
        f.enabled,
        case
            when not f.enabled then 'disabled'
            when f.gone_at is not null then 'gone'
            when f.last_fetch_at is null and coalesce(f.next_fetch_at <= now(), true) then 'never_fetched'
            when f.next_fetch_at > now() then 'deferred'
            when f.consecutive_failures > 0 then 'failing'
            when f.silent_for >= interval 48 hours then 'silent'
            else 'ok'
        end as status,
        f.url,
        f.last_fetch_at,
        f.last_outcome,
        f.last_status_code,
        f.last_error,
        f.last_success_at,
        f.consecutive_failures,
        case when f.next_fetch_at > now() then f.next_fetch_at end as deferred_until,
        f.gone_at,
        f.last_new_item_at,
        f.silent_for,
        round(epoch(f.silent_for) / 3600, 1) as silent_hours,
        coalesce(r.fetches_7d, 0) as fetches_7d,
        coalesce(r.failed_fetches_7d, 0) as failed_fetches_7d,
        coalesce(r.new_items_7d, 0) as new_items_7d,
        round(coalesce(r.new_items_7d, 0) / 7, 1) as items_per_day
    from feed_rows f
    left join recent_fetches r on r.feed = f.name
)

select * from final
