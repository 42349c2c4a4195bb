-- daily_topic_counts: relevant stories and articles per day (America/Lima) and topic.
--
-- One row per (day, topic) with at least one relevant article.
-- Columns:
--   day       date in Peru (UTC-5) of the articles' event time, coalesce(published_at, first_seen_at)
--   topic     a topic id of the taxonomy (extortion, homicide, ...); an article may have several
--   stories   stories counted on this day: a story counts once, on the day of its earliest relevant
--             article with the topic, however many outlets ran it
--   articles  relevant articles of the day with the topic (each outlet's copy counts)
--   outlets   distinct outlets among those articles
-- Summing `stories` over days counts each story once. Reads `trend_topics`, one row per relevant
-- article and topic, kept in step by each load (migration 003).

with article_topics as (
    select day, topic, story_first, outlet_first from trend_topics
),

final as (
    select
        day,
        topic,
        count(*) filter (where story_first) as stories,
        count(*) as articles,
        count(*) filter (where outlet_first) as outlets
    from article_topics
    group by day, topic
)

select * from final
