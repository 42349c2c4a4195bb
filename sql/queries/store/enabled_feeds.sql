-- enabled_feeds: the feeds the database has enabled, which a new feeds.toml is compared with.
select name
from feeds
where enabled
