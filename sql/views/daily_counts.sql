-- daily_counts: relevant stories per day (America/Lima) × topic × department, with a row of zeros
-- for every quiet day, so sums over a month and charts need no gap-filling.
--
-- One row per (day, topic, department) for every day from the first day with a relevant article
-- to today (Peru), for every (topic, department) pair that ever had one. Columns:
--   day         date in Peru (UTC-5) of the articles' event time, coalesce(published_at, first_seen_at)
--   topic       a topic id (extortion, homicide, ...); null: the classifier gave no topic
--   ubigeo      the INEI code of the story's primary department (where it happened, as in
--               `stories`); null: no department identified
--   department  its name, from `departments` (null with ubigeo)
--   stories     stories counted that day: a story counts once per (topic, department), on the day
--               of its earliest relevant article with both, however many outlets ran it
--   articles    relevant articles of the day with the topic and the department
--   outlets     distinct outlets among those articles
-- Summing `stories` over days counts each story once per topic: a story is in one department (its
-- primary one, or null), so departments add up; a story given two topics counts in each. Reads `trend_articles` (migration 003).
--   select sum(stories) from daily_counts
--   where topic = 'extortion' and department = 'La Libertad' and day >= date_trunc('month', current_date);

with facts as (
    select a.story_id, a.day, a.outlet, a.topics, s.primary_department
    from trend_articles a
    join trend_stories s using (story_id)
),

-- A story counts in the department where it happened (its primary department, migration 008),
-- never once per department its texts name; null when none was identified.
placed as (
    select story_id, day, outlet, topics, primary_department as ubigeo
    from facts
),

article_keys as (
    select story_id, day, outlet, ubigeo, unnest(coalesce(nullif(topics, []), [null])) as topic
    from placed
),

flagged as (
    select
        *,
        row_number() over (partition by story_id, topic, ubigeo order by day) = 1 as story_first
    from article_keys
),

counts as (
    select
        day,
        topic,
        ubigeo,
        count(*) filter (where story_first) as stories,
        count(*) as articles,
        count(distinct outlet) as outlets
    from flagged
    group by day, topic, ubigeo
),

calendar as (
    select unnest(generate_series(min(day), greatest(max(day), timezone('America/Lima', now())::date), interval 1 day))::date as day
    from facts
),

pairs as (
    select distinct topic, ubigeo from counts
),

final as (
    select
        c.day,
        p.topic,
        p.ubigeo,
        d.name as department,
        coalesce(n.stories, 0) as stories,
        coalesce(n.articles, 0) as articles,
        coalesce(n.outlets, 0) as outlets
    from calendar c
    cross join pairs p
    left join counts n
        on n.day = c.day and n.topic is not distinct from p.topic and n.ubigeo is not distinct from p.ubigeo
    left join departments d on d.ubigeo = p.ubigeo
)

select * from final
