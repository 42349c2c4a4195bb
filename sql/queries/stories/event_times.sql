-- event_times: an updated article keeps its story; only its event time follows the update.
update article_stories set event_at = a.event_at
from (select article_id, coalesce(published_at, first_seen_at) as event_at from articles
      where {wanted}) a
where a.article_id = article_stories.article_id and article_stories.event_at <> a.event_at
