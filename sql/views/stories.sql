-- stories: one row per story with at least one relevant article: the incident, however many
-- outlets reported it.
--
-- An article joins the story of an earlier article within 72 hours when it has the same
-- normalised title or near-duplicate text (MinHash, estimated Jaccard >= 0.5); see
-- pipeline/stories.py. The story_id is the article_id of its first article and never changes.
-- Columns:
--   story_id
--   title                the title of its earliest relevant article
--   first_event_at, last_event_at   earliest and latest event time of its relevant articles (UTC)
--   day                  the Peru (America/Lima) date of first_event_at
--   articles, outlets    relevant articles, and distinct outlets, that carried it
--   outlet_names         those outlets, sorted
--   topics, departments  every topic and department (ubigeo) its articles were given
--   primary_department   where it happened: the primary department most of its relevant articles
--                        give (on a tie, that of the earliest of them); null when none gives one
-- Reads `trend_stories`, kept in step by each load with `relevant_articles` (migration 003). All
-- of a story's articles, relevant or not, are in `article_stories`.

with story_facts as (
    select * from trend_stories
),

final as (
    select
        story_id,
        title,
        first_event_at,
        last_event_at,
        day,
        articles,
        outlets,
        outlet_names,
        topics,
        departments,
        primary_department
    from story_facts
)

select * from final
