-- first_fetch: when the run's first feed was asked (null for a run that asked none).
select min(started_at)
from _stage_fetches
