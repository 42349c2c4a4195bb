-- feed_urls: each feed's configured URL: an article's outlet when its own URL names no site.
select name, configured_url
from feeds
