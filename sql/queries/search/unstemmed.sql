-- unstemmed: words indexed before they were stemmed (none after migration 009 reindexes), up to $limit.
select term
from search_terms
where stem is null
limit $limit
