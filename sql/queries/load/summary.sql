-- summary: the run's feeds by outcome (answered, failed, put off) and the items their feeds listed.
select
    count(*) filter (where outcome in ('ok', 'not_modified')),
    count(*) filter (where outcome not in ('ok', 'not_modified', 'deferred')),
    count(*) filter (where outcome = 'deferred'),
    coalesce(sum(items), 0)
from _stage_fetches
