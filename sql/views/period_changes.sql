-- period_changes: what changed. This week and this month against the previous ones, per topic,
-- per department, and per topic in each department, counting relevant stories.
--
-- Periods (Peru days, today included, so a current period is compared with the same span of the
-- previous one, never a partial week with a whole one):
--   week    this calendar week (Monday to today)   vs the same days of the previous week
--   month   this calendar month (1st to today)     vs the same days of the previous month
--   7d      the last 7 days                        vs the 7 days before
--   30d     the last 30 days                       vs the 30 days before
-- One row per period and key that had a story in either span. Columns:
--   period, dimension ('topic' | 'department' | 'topic_department')
--   topic                   topic id (null for dimension 'department')
--   ubigeo, department      INEI code and name (null for dimension 'topic'; also null in the other
--                           dimensions for stories with no department identified)
--   current_start, current_end, previous_start, previous_end   the two spans (dates, inclusive)
--   current_stories, previous_stories   stories whose first relevant article (with that topic, in
--                           that department) fell in the span, as summed from the daily views
--   difference              current_stories - previous_stories
--   ratio                   current_stories / previous_stories (null when previous_stories is 0)
--   select * from period_changes where period = 'month' and topic = 'extortion' and department = 'La Libertad';
--   select * from period_changes where period = 'week' and dimension = 'topic' order by difference desc;

with facts as (
    select a.story_id, a.day, a.topics, s.primary_department
    from trend_articles a
    join trend_stories s using (story_id)
),

-- A story counts in the department where it happened (its primary department, migration 008).
placed as (
    select story_id, day, topics, primary_department as ubigeo
    from facts
),

-- The day each story counts on, per key: its first relevant article with the key.
by_topic as (
    select 'topic' as dimension, topic, null::varchar as ubigeo, story_id, min(day) as day
    from (select story_id, day, unnest(topics) as topic from facts)
    group by topic, story_id
),

by_department as (
    select 'department' as dimension, null::varchar as topic, ubigeo, story_id, min(day) as day
    from placed
    group by ubigeo, story_id
),

by_topic_department as (
    select 'topic_department' as dimension, topic, ubigeo, story_id, min(day) as day
    from (select story_id, day, ubigeo, unnest(topics) as topic from placed)
    group by topic, ubigeo, story_id
),

story_days as (
    select * from by_topic
    union all
    select * from by_department
    union all
    select * from by_topic_department
),

today as (
    select timezone('America/Lima', now())::date as today
),

periods as (
    select
        'week' as period,
        date_trunc('week', today)::date as current_start,
        today as current_end,
        date_trunc('week', today)::date - 7 as previous_start,
        today - 7 as previous_end
    from today
    union all
    select
        'month',
        date_trunc('month', today)::date,
        today,
        (date_trunc('month', today) - interval 1 month)::date,
        (today - interval 1 month)::date  -- clamped: 31 March compares with 28 or 29 February
    from today
    union all
    select '7d', today - 6, today, today - 13, today - 7 from today
    union all
    select '30d', today - 29, today, today - 59, today - 30 from today
),

counted as (
    select
        p.period,
        s.dimension,
        s.topic,
        s.ubigeo,
        count(*) filter (where s.day between p.current_start and p.current_end) as current_stories,
        count(*) filter (where s.day between p.previous_start and p.previous_end) as previous_stories
    from story_days s
    join periods p on s.day between p.previous_start and p.current_end
    group by p.period, s.dimension, s.topic, s.ubigeo
),

final as (
    select
        c.period,
        c.dimension,
        c.topic,
        c.ubigeo,
        d.name as department,
        p.current_start,
        p.current_end,
        p.previous_start,
        p.previous_end,
        c.current_stories,
        c.previous_stories,
        c.current_stories - c.previous_stories as difference,
        round(c.current_stories / nullif(c.previous_stories, 0), 2) as ratio
    from counted c
    join periods p using (period)
    left join departments d on d.ubigeo = c.ubigeo
    where c.current_stories + c.previous_stories > 0
)

select * from final
