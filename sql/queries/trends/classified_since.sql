-- classified_since: the articles classified after $since (all of them when $since is null).
select article_id
from classifications
where $since::timestamptz is null or classified_at > $since
