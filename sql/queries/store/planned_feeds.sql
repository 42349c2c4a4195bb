-- planned_feeds: the enabled feeds of feeds.toml as the `feeds` table lists them (when it lists the
-- registry as read: store/registry_applied.sql), in the file's order, each with what a plan needs:
-- its entry (name, url, language), its state (a FeedState) and its rhythm (last poll, last new item).
select
    name,
    configured_url,
    language,
    url,
    etag,
    last_modified,
    consecutive_failures,
    next_fetch_at,
    last_full_fetch_at,
    gone_at is not null as gone,
    last_fetch_at,
    last_new_item_at
from feeds
where enabled
  and registry_position is not null
order by registry_position
