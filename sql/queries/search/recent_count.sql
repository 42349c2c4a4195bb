-- recent_count: how many postings wait, unsorted, in search_postings_recent.
select count(*)
from search_postings_recent
