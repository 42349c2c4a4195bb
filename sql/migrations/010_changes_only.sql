-- 010_changes_only: a cycle's own work in proportion to what changed, not to the registry (issue 20).
--   * the key of the feeds.toml the load last applied (pipeline/registry.py), with a digest of the
--     `feeds` rows it made: an unchanged registry is not parsed, checked or upserted again while
--     those rows are as the load left them;
--   * each feed's place in feeds.toml, so that the plan reads the registry's order from `feeds`;
--   * the fetch log keeps no row for a clean 304 (the feed answered "not modified" again with
--     nothing else changed): the feed counts it (`quiet_polls`, since `logged_at`, its last row),
--     its next row carries the count and when they happened, and `run_outcomes` keeps every run's
--     exact count of feeds per outcome, logged or not.

create table if not exists registry_applied (
    key          varchar not null,           -- Registry.key: rules version and SHA-256 of the bytes
    feeds_digest ubigint not null,           -- of the feeds rows it made (store/registry_applied.sql)
    applied_at   timestamptz not null
);

alter table feeds add column registry_position integer;        -- 1.. in feeds.toml; null once removed
alter table feeds add column quiet_polls integer default 0;    -- clean 304s since its last fetches row
alter table feeds add column logged_at timestamptz;            -- its last fetches row's started_at

alter table fetches add column quiet_polls integer default 0;  -- clean 304s between the previous row and this
alter table fetches add column quiet_since timestamptz;        -- the previous row's started_at
alter table fetches add column quiet_until timestamptz;        -- the last of those clean 304s

update feeds set logged_at = f.last_row_at
from (select feed, max(started_at) as last_row_at from fetches group by feed) f
where feeds.name = f.feed;

create table if not exists run_outcomes (
    run_id  varchar not null,
    outcome varchar not null,
    feeds   integer not null,                -- feeds of the run with this outcome
    logged  integer not null,                -- of which a `fetches` row was written (all but clean 304s)
    primary key (run_id, outcome)
);
