-- last_load: when the last successful load finished (a `runs` row is written only by a load that
-- committed), and its run id. No row when nothing was ever loaded.
with loads as (
    select run_id, finished_at from runs where finished_at is not null
),

final as (
    select run_id, finished_at from loads
    order by finished_at desc
    limit 1
)

select * from final
