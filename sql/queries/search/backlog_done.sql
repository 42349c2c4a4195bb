-- backlog_done: these articles ({wanted}) are indexed: no longer waiting.
delete from search_backlog
where {wanted}
