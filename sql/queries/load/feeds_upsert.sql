-- feeds_upsert: make `feeds` list exactly the configured feeds of `_cfg` (an Arrow table of feeds.toml's
-- name, url, language, enabled, position), at $now: new ones added; a URL edited in feeds.toml resets what was
-- learnt about the old one; language and enabled follow the file; a feed removed from it stays,
-- disabled.
insert into feeds (name, url, configured_url, language, enabled, added_at, registry_position)
select c.name, c.url, c.url, c.language, c.enabled, $now, c.position
from _cfg c
where not exists (select 1 from feeds f where f.name = c.name);

update feeds
set url = c.url, configured_url = c.url, etag = null, last_modified = null, consecutive_failures = 0,
    next_fetch_at = null, gone_at = null, last_full_fetch_at = null
from _cfg c
where feeds.name = c.name and feeds.configured_url <> c.url;

update feeds
set language = c.language, enabled = c.enabled, registry_position = c.position
from _cfg c
where feeds.name = c.name
  and (feeds.language is distinct from c.language or feeds.enabled <> c.enabled
       or feeds.registry_position is distinct from c.position);

update feeds
set enabled = false, registry_position = null
where (enabled or registry_position is not null) and name not in (select name from _cfg);
