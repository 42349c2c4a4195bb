-- outlet_coverage: what each outlet brings: how much, how much of it is relevant, about what
-- and where, and when it last published.
--
-- One row per outlet (the site that published the articles; see `article_stories`). Columns:
--   outlet
--   feeds            the feeds its articles came from
--   articles         articles stored, relevant or not
--   relevant         those the current model finds relevant
--   relevant_share   relevant / articles (0 to 1)
--   stories          distinct stories among its relevant articles
--   topics           topics of its relevant articles, most frequent first
--   departments      departments (names) where its relevant articles happened (their primary
--                    departments), most frequent first
--   first_article_at, last_article_at   event time of its first and latest article (UTC)
--   last_relevant_at                    event time of its latest relevant article
--   select outlet, relevant, last_article_at from outlet_coverage
--   where list_contains(departments, 'La Libertad') order by relevant desc;

with stored as (
    select s.article_id, s.outlet, s.event_at, a.feed
    from article_stories s
    join articles a using (article_id)
),

totals as (
    select
        outlet,
        list_sort(list_distinct(list(feed))) as feeds,
        count(*) as articles,
        min(event_at) as first_article_at,
        max(event_at) as last_article_at
    from stored
    group by outlet
),

relevant as (
    select outlet, count(*) as relevant, count(distinct story_id) as stories, max(event_at) as last_relevant_at
    from trend_articles
    group by outlet
),

topic_counts as (
    select outlet, topic, count(*) as n
    from (select outlet, unnest(topics) as topic from trend_articles)
    group by outlet, topic
),

topic_lists as (
    select outlet, list(topic order by n desc, topic) as topics from topic_counts group by outlet
),

-- An article counts in the department where its event happened (its primary department).
placed as (
    select outlet, primary_department as ubigeo from trend_articles where primary_department is not null
),

department_counts as (
    select p.outlet, coalesce(d.name, p.ubigeo) as department, count(*) as n
    from placed p
    left join departments d using (ubigeo)
    group by p.outlet, coalesce(d.name, p.ubigeo)
),

department_lists as (
    select outlet, list(department order by n desc, department) as departments
    from department_counts
    group by outlet
),

final as (
    select
        t.outlet,
        t.feeds,
        t.articles,
        coalesce(r.relevant, 0) as relevant,
        round(coalesce(r.relevant, 0) / t.articles, 3) as relevant_share,
        coalesce(r.stories, 0) as stories,
        coalesce(tl.topics, []) as topics,
        coalesce(dl.departments, []) as departments,
        t.first_article_at,
        t.last_article_at,
        r.last_relevant_at
    from totals t
    left join relevant r using (outlet)
    left join topic_lists tl using (outlet)
    left join department_lists dl using (outlet)
)

select * from final
