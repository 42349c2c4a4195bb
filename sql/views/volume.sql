-- volume: every stored article per day (America/Lima) and outlet, relevant or not: the
-- denominator for normalised trends (a topic's share of an outlet's output, not its raw count).
--
-- One row per outlet and day from the outlet's first article to today, zeros for the days it
-- published nothing we stored. Columns:
--   day        date in Peru of the article's event time, coalesce(published_at, first_seen_at)
--   outlet     the site that published it (see `article_stories`)
--   articles   articles stored for that day, relevant or not
--   relevant   those the current model finds relevant (as in `relevant_articles`)
--   select day, sum(relevant) / sum(articles) as relevant_share from volume group by day order by day;

with stored as (
    select s.article_id, s.outlet, timezone('America/Lima', s.event_at)::date as day
    from article_stories s
),

relevant as (
    select article_id from trend_articles
),

counts as (
    select
        st.day,
        st.outlet,
        count(*) as articles,
        count(r.article_id) as relevant
    from stored st
    left join relevant r using (article_id)
    group by st.day, st.outlet
),

outlet_spans as (
    select outlet, min(day) as first_day from counts group by outlet
),

calendar as (
    select
        o.outlet,
        unnest(
            generate_series(
                o.first_day, greatest(o.first_day, timezone('America/Lima', now())::date), interval 1 day
            )
        )::date as day
    from outlet_spans o
),

final as (
    select
        c.day,
        c.outlet,
        coalesce(n.articles, 0) as articles,
        coalesce(n.relevant, 0) as relevant
    from calendar c
    left join counts n using (outlet, day)
)

select * from final
