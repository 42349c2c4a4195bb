-- articles: the stored articles with a link whose event time (published, else first seen) is from
-- $since on (before $until, if given; of feed $feed, if given), as the feed entries they came from
-- (the columns of records.FeedEntry, in its order), then their extraction attempts so far; oldest first.
select feed, article_id, url, url as link, guid,
       coalesce(title, '') as title, coalesce(summary, '') as summary,
       author, published_at, language, entry_hash,
       extraction_attempts
from articles
where url is not null
  and coalesce(published_at, first_seen_at) >= $since
  and ($until is null or coalesce(published_at, first_seen_at) < $until)
  and ($feed is null or feed = $feed)
order by coalesce(published_at, first_seen_at), article_id
