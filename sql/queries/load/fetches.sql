-- fetches: the run's fetch log, one row a feed (a load retried with the same run adds nothing), except
-- the clean 304s of `_quiet`, which the feed counts instead (load/feed_states.sql). A row carries the
-- clean 304s of its feed since the feed's previous row: how many, after which row, the last one.
-- Then the run's exact count of feeds per outcome, logged or not (`run_outcomes`, once a run).
insert into fetches
with staged as (
    select distinct on (feed) *
    from _stage_fetches x
    where not exists (select 1 from fetches f where f.run_id = $run_id and f.feed = x.feed)
      and x.feed not in (select feed from _quiet)
),

final as (
    select
        $run_id, x.feed, x.url, x.started_at, x.outcome, x.status_code, x.bytes, x.duration_ms, x.error,
        x.items, x.new_items,
        coalesce(f.quiet_polls, 0) as quiet_polls,
        case when f.quiet_polls > 0 then f.logged_at end as quiet_since,
        case when f.quiet_polls > 0 then f.last_fetch_at end as quiet_until
    from staged x
    left join feeds f on f.name = x.feed
)

select * from final;

insert into run_outcomes
with outcomes as (
    select distinct on (feed) feed, outcome
    from _stage_fetches
),

final as (
    select $run_id, outcome, count(*), count(*) filter (where feed not in (select feed from _quiet))
    from outcomes
    group by outcome
)

select * from final
where not exists (select 1 from run_outcomes where run_id = $run_id)
