-- starts: the event time of these stories' first articles ({firsts}: a condition on article_id).
select article_id, event_at
from article_stories
where {firsts}
