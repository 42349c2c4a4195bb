-- changes: how many staged articles change in each way (see article_changes.sql).
select change, count(*)
from _change
group by change
