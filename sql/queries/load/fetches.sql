-- fetches: the run's fetch log, one row a feed (a load retried with the same run adds nothing).
insert into fetches
select distinct on (feed) $run_id, feed, url, started_at, outcome, status_code, bytes, duration_ms, error,
       items, new_items
from _stage_fetches x
where not exists (select 1 from fetches f where f.run_id = $run_id and f.feed = x.feed)
