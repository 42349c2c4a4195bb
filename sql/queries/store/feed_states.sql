-- feed_states: what is remembered of every stored feed between cycles (a FeedState each: validators,
-- failures, back-off, 410 Gone) and the URL feeds.toml gave it, which a plan compares with today's.
select
    name,
    url,
    etag,
    last_modified,
    consecutive_failures,
    next_fetch_at,
    last_full_fetch_at,
    gone_at is not null as gone,
    configured_url
from feeds
