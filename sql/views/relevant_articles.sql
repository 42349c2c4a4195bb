-- relevant_articles: the articles the current model finds relevant, with their story.
--
-- One row per relevant article. "Current model": per article, the classification by the newest
-- model version that scored it (the rule of `current_classifications`), kept up to date by each
-- load in `trend_articles` (migration 003), so this view answers at once on a million articles.
-- Columns:
--   article_id, story_id   the story's id is the article_id of its first article (see `stories`)
--   event_at               when it happened as far as we know: coalesce(published_at, first_seen_at), UTC
--   day                    event_at's date in Peru (America/Lima, UTC-5, no daylight saving)
--   feed, outlet           the feed it was first seen in; the outlet (site) that published it
--   title, url, score, topics, departments (ubigeo codes), model_version
--   primary_department     the place of the event (a `departments` code), or null
--   label                  the last analyst label, if any ('relevant', 'not_relevant', 'ambiguous');
--                          trends follow the model, labels feed the next retrain

with facts as (
    select * from trend_articles
),

last_labels as (
    select article_id, arg_max(label, labelled_at) as label
    from labels
    group by article_id
),

final as (
    select
        f.article_id,
        f.story_id,
        f.event_at,
        f.day,
        f.feed,
        f.outlet,
        f.title,
        f.url,
        f.score,
        f.topics,
        f.departments,
        f.model_version,
        l.label,
        f.primary_department
    from facts f
    left join last_labels l using (article_id)
)

select * from final
