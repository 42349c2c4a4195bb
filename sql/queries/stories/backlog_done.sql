-- backlog_done: these articles ({wanted}) are assigned: no longer waiting in the story backlog.
delete from story_backlog
where {wanted}
