-- articles: the articles to assign ({wanted}: a condition on article_id), with the text they are
-- compared by (else their summary) and their event time, in the order they are assigned.
select article_id, url, feed, title, coalesce(text, summary),
       coalesce(published_at, first_seen_at) as event_at
from articles
where {wanted}
order by event_at, article_id
