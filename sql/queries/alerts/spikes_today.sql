-- spikes_today: the rows of the `spikes` view for $day (a date in Peru), largest first; a spike
-- measured against less than 14 days of baseline (baseline_ok false) is not alerted.
-- Columns: dimension ('topic' | 'department'), key (topic id | ubigeo), name, stories, outlets,
--          expected, robust_z.
with today as (
    select dimension, key, name, stories, outlets, expected, robust_z
    from spikes
    where day = $day and baseline_ok
),

final as (
    select * from today
)

select * from final
order by robust_z desc, dimension, key
