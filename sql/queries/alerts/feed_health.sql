-- feed_health: per enabled feed, what decides whether it is quiet (see detect.quiet_reason).
--
-- Columns, from the `source_health` view: feed, status, consecutive_failures, last_error,
-- last_success_at, last_new_item_at, silent_hours, deferred_until (a feed parked by back-off or
-- Retry-After: its next probe); and
--   usual_items_per_day   its rhythm: new items per day over the 28 days *before* its last new item
--                         (not the last 7 days, which a long silence itself drags towards zero);
--                         null when it has less than 2 days of fetches behind that item. The clean
--                         304s the fetch log keeps no row for (counted in the next row, `quiet_polls`)
--                         bring nothing new; they count as fetches from the 28 days' start when a run
--                         of them crossed it (their own times are not kept).
with health as (
    select
        feed, status, consecutive_failures, last_error, last_success_at, last_new_item_at, silent_hours,
        deferred_until
    from source_health
    where enabled
),

history as (
    select
        f.feed,
        min(case
            when f.quiet_polls > 0 and f.quiet_until > h.last_new_item_at - interval 28 days
                then greatest(f.quiet_since, h.last_new_item_at - interval 28 days)
            else f.started_at
        end) as first_fetch_at,
        sum(f.new_items) as new_items
    from fetches f
    join health h using (feed)
    where h.last_new_item_at is not null
      and f.started_at > h.last_new_item_at - interval 28 days
      and f.started_at <= h.last_new_item_at
    group by f.feed
),

rhythm as (
    select
        feed,
        epoch(h.last_new_item_at - first_fetch_at) / 86400 as days_observed,
        new_items
    from history
    join health h using (feed)
),

final as (
    select
        h.*,
        case when r.days_observed >= 2 then r.new_items / r.days_observed end as usual_items_per_day
    from health h
    left join rhythm r using (feed)
)

select * from final
order by feed
