-- spikes: days on which a topic or a department had far more stories than its own recent normal.
--
-- One row per (day, topic or department) that spiked in the last 90 days (a bounded window keeps
-- the view fast however long the history grows). Today's (still partial) day is included:
-- `where day = timezone('America/Lima', now())::date`.
--
-- The rule (threshold), for each topic and each department, on each day in Peru (America/Lima):
--   stories      = stories counted that day (daily_topic_counts / daily_department_counts), with
--                  days without any counted as 0
--   median_28d   = median of stories over the 28 days before (not including) the day
--   median_dow   = median over the same weekday of the 4 weeks before (weekday-aware: Monday's
--                  news is not Sunday's)
--   expected     = greatest(median_28d, median_dow)
--   spread       = greatest(1.4826 * MAD of those 28 days, 1)   (1.4826 * MAD estimates a standard
--                  deviation robustly; the floor of 1 story keeps a quiet series from spiking on 2)
--   robust_z     = (stories - expected) / spread
-- A spike is   robust_z >= 3.5   and   stories >= 3   and   outlets >= 3 distinct outlets that day
-- (so one outlet's series of follow-ups is not a spike).
-- 3.5 is Iglewicz and Hoaglin's cut-off for outliers by the MAD-based modified z-score.
--
-- The baseline comes from the articles' own event days, so spikes work from the first cycle (which
-- loads the days or weeks of history the feeds still carry). A feed reaches back as far as its
-- last few dozen items: a busy outlet's feed covers a day, a slow one's weeks, so the archive's
-- earliest days are thin and would make any day look like a spike. The baseline therefore starts
-- on the first day that holds at least half a normal day's articles (all of them, `volume`; normal:
-- the median of the three days before today); `baseline_days` counts the days of baseline a row had (up to 28) and
-- `baseline_ok` is true from 14 days on. A row with baseline_ok false is a spike measured against
-- too short a history: shown, but not alerted.
--
-- Columns: day, dimension ('topic' | 'department'), key (topic id | ubigeo), name (topic id |
--          department name), stories, articles, outlets, expected, median_28d, median_dow, mad_28d,
--          robust_z, baseline_days, baseline_ok.

with daily_volume as (
    select day, sum(articles) as articles from volume group by day
),

normal_volume as (
    -- the three days before today: complete days, even in a first cycle's archive
    select median(articles) as articles
    from daily_volume
    where day between timezone('America/Lima', now())::date - 3 and timezone('America/Lima', now())::date - 1
),

bounds as (
    select
        -- the first day the archive covers fully enough to be a baseline
        (select min(v.day) from daily_volume v, normal_volume n where v.articles >= 0.5 * n.articles)
            as first_day,
        timezone('America/Lima', now())::date - 89 as first_scored_day,
        timezone('America/Lima', now())::date as today
),

series_start as (
    select greatest(first_day, first_scored_day - 28) as day from bounds
),

daily as (
    select 'topic' as dimension, topic as key, topic as name, day, stories, articles, outlets
    from daily_topic_counts
    where day >= (select day from series_start)
    union all
    select 'department' as dimension, ubigeo as key, department as name, day, stories, articles, outlets
    from daily_department_counts
    where day >= (select day from series_start)
),

calendar as (
    select unnest(generate_series((select day from series_start), today, interval 1 day))::date as day
    from bounds
),

series_keys as (
    select dimension, key, any_value(name) as name from daily group by dimension, key
),

series as (
    select
        k.dimension,
        k.key,
        k.name,
        c.day,
        coalesce(d.stories, 0) as stories,
        coalesce(d.articles, 0) as articles,
        coalesce(d.outlets, 0) as outlets
    from series_keys k
    cross join calendar c
    left join daily d on d.dimension = k.dimension and d.key = k.key and d.day = c.day
),

baselines as (
    select
        *,
        count(*) over last_28_days as history_days,
        median(stories) over last_28_days as median_28d,
        mad(stories) over last_28_days as mad_28d,
        median(stories) over same_weekday as median_dow
    from series
    window
        last_28_days as (partition by dimension, key order by day rows between 28 preceding and 1 preceding),
        same_weekday as (
            partition by dimension, key, isodow(day) order by day rows between 4 preceding and 1 preceding
        )
),

scored as (
    select
        *,
        greatest(median_28d, coalesce(median_dow, 0)) as expected,
        greatest(1.4826 * mad_28d, 1.0) as spread
    from baselines
),

final as (
    select
        day,
        dimension,
        key,
        name,
        stories,
        articles,
        outlets,
        expected,
        median_28d,
        median_dow,
        mad_28d,
        round((stories - expected) / spread, 2) as robust_z,
        least(history_days, 28) as baseline_days,
        history_days >= 14 as baseline_ok
    from scored
    where day >= (select first_scored_day from bounds)
      and stories >= 3
      and outlets >= 3
      and (stories - expected) / spread >= 3.5
)

select * from final
