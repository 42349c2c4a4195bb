-- change_counts: how many staged articles change in each way, and how many of each were retried
-- (their page asked again for the same item).
select change, count(*), count(*) filter (where retried)
from _change
group by change
