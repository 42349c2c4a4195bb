-- new_stories: relevant stories never mailed, whose first relevant article reached the database at or
-- after $since (so a new install, or a retrain that re-scores old articles, does not mail the past).
--
-- One row per story (see the `relevant_articles` view): articles an analyst labelled not_relevant
-- are left out; titles and URLs are read from `articles`, as stored now. Columns:
--   story_id
--   title, url      of the story's highest-scored article (the earliest one on a tie)
--   score           the highest score of its articles
--   topics          that article's topics, the strongest first
--   departments     ubigeo codes: that article's (main place first), then the others' its articles name
--   event_at        earliest event time (published, else first seen), UTC
--   first_seen_at   when its first relevant article was loaded
--   links           every article: outlet, url, title, event_at, oldest first
--   lede            the start of that article's summary (else its text), for the digest's one-line lede
--   primary_department  where it happened (the `stories` view's, migration 008), or null
with relevant as (
    select r.story_id, r.article_id, a.title, a.url, r.outlet, r.score, r.topics, r.departments,
           r.event_at, a.first_seen_at, left(coalesce(nullif(trim(a.summary), ''), a.text), 600) as lede
    from relevant_articles r
    join articles a using (article_id)
    where r.label is distinct from 'not_relevant'
),

mailed as (
    select story_id from alert_stories
),

by_story as (
    select
        story_id,
        arg_max(article_id, (score, -epoch(event_at))) as best_article,
        max(score) as score,
        list_sort(list_distinct(flatten(list(departments)))) as departments,
        min(event_at) as event_at,
        min(first_seen_at) as first_seen_at,
        list(struct_pack(outlet := outlet, url := url, title := title, event_at := event_at)
             order by event_at, article_id) as links
    from relevant
    group by story_id
),

final as (
    select
        s.story_id, b.title, b.url, s.score, b.topics,
        list_concat(b.departments, list_filter(s.departments, d -> not list_contains(b.departments, d)))
            as departments,
        s.event_at, s.first_seen_at, s.links, b.lede, st.primary_department
    from by_story s
    join relevant b on b.article_id = s.best_article
    left join stories st on st.story_id = s.story_id
    where s.first_seen_at >= $since
      and s.story_id not in (select story_id from mailed)
)

select * from final
order by score desc, event_at desc, story_id
