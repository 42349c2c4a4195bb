-- feed_states: what is remembered of each stored feed between cycles, as a plan needs it: its entry as
-- feeds.toml gave it (name, URL, language, enabled), its state (a FeedState: validators, failures,
-- back-off, 410 Gone) and its rhythm (last poll, last poll that found something new).
-- With $every_stored, every feed the table holds (a plan after feeds.toml changed compares them with
-- the new file). Without it, only the enabled feeds of feeds.toml as the table lists them (when it
-- lists the registry as read: store/registry_applied.sql), in the file's order.
-- With $only_due (the scheduler's runs), only the feeds due at $now (pipeline.collect.polling.due
-- and .rested, parameters from polling.due_filter) as a filter: one scan, whatever the registry's
-- size; a filter that keeps a little more than the policy (a second of slack for rounding), never
-- less, for the plan applies the policy itself to the feeds it keeps:
--   not gone; not parked (next_fetch_at unset, passed, or further than the longest wait allowed,
--   $longest_s seconds); and, for a healthy feed (no failure in a row), rested: its last poll plus
--   0.9 of its interval (half its silence before that poll, within $low_s and $high_s seconds) is
--   passed (always, when $high_s <= 0 or it was never polled).
select
    name,
    configured_url,
    language,
    enabled,
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
where ($every_stored or (enabled and registry_position is not null))
  and (not $only_due or (
      gone_at is null
      and (next_fetch_at is null or next_fetch_at <= $now or epoch(next_fetch_at) - epoch($now) + 1 > $longest_s)
      and (
          consecutive_failures > 0
          or $high_s <= 0
          or last_fetch_at is null
          or epoch($now) + 1 >= epoch(last_fetch_at) + 0.9 * case
              when last_new_item_at is null then greatest($low_s, $high_s)
              else least(
                  greatest($low_s, $high_s),
                  greatest($low_s, greatest(0, epoch(last_fetch_at) - epoch(last_new_item_at)) / 2)
              )
          end
      )
  ))
order by registry_position nulls last, name
