-- backlog_count: how many articles stored before migration 003 still wait to be indexed.
select count(*)
from search_backlog
