-- daily_department_counts: relevant stories and articles per day (America/Lima) and department.
--
-- One row per (day, department) with at least one relevant article placed there. A relevant
-- article is placed in the department where its story happened (the story's primary department,
-- as in `stories`), not in every department its text names.
-- Columns:
--   day         date in Peru (UTC-5) of the articles' event time, coalesce(published_at, first_seen_at)
--   ubigeo      the department's INEI code (Lima Metropolitana is 1501, apart from Lima Provincias 15)
--   department  its name, from `departments`
--   stories     stories counted on this day: a story counts once, on the day of its earliest relevant
--               article placed in the department, however many outlets ran it
--   articles    relevant articles of the day placed in the department
--   outlets     distinct outlets among those articles
-- Summing `stories` over days counts each story once. Reads `trend_departments`, one row per
-- relevant article and department, kept in step by each load (migration 003).

with article_departments as (
    select day, ubigeo, story_first, outlet_first from trend_departments
),

counts as (
    select
        day,
        ubigeo,
        count(*) filter (where story_first) as stories,
        count(*) as articles,
        count(*) filter (where outlet_first) as outlets
    from article_departments
    group by day, ubigeo
),

final as (
    select c.day, c.ubigeo, coalesce(d.name, c.ubigeo) as department, c.stories, c.articles, c.outlets
    from counts c
    left join departments d using (ubigeo)
)

select * from final
