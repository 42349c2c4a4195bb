-- backlog_chunk: the next $limit articles of the story backlog, oldest first.
select distinct b.article_id
from story_backlog b
join articles a using (article_id)
order by coalesce(a.published_at, a.first_seen_at), b.article_id
limit $limit
