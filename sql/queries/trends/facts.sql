-- facts: `_trend_new`, one row per relevant article of the stories being refreshed (whose articles
-- match {members}): its story, event time and Peru day, outlet, title, URL, and the current model's
-- decision on it. The decision follows the rule of the `current_classifications` view, the macro
-- current_decisions (sql/macros/current_decisions.sql), applied to these articles' classifications.
create or replace temp view _trend_classifications as
select * from classifications where {members};

create or replace temp table _trend_new as
with decisions as (
    select article_id, model_version, score, is_relevant, topics, departments, primary_department
    from current_decisions('_trend_classifications')
),

stories as (
    select article_id, story_id, event_at, outlet from article_stories where {members}
),

article_rows as (
    select article_id, feed, title, url from articles where {members}
)

select d.article_id, s.story_id, s.event_at, timezone('America/Lima', s.event_at)::date as day,
       a.feed, s.outlet, a.title, a.url, d.model_version, d.score, d.topics, d.departments,
       d.primary_department
from decisions d
join stories s using (article_id)
join article_rows a using (article_id)
where d.is_relevant;
