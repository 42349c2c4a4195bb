-- backlog_count: how many articles stored before migration 003 still wait for a story.
select count(*)
from story_backlog
