-- backlog_chunk: the next $limit articles of the search backlog.
select distinct article_id
from search_backlog
limit $limit
