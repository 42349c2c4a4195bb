-- 006_backlog_counts: entries put off to a later cycle, and a cycle's exact counts.

-- Feed entries whose page waits for a later cycle: over a feed's limit of new articles in one
-- cycle (a flood), or not asked before the cycle's time was up or while their host asked to wait.
-- Later cycles take them first, oldest first; a load removes the ones its cycle took.
create table if not exists entry_backlog (
    article_id   varchar primary key,
    feed         varchar not null,            -- the feed that listed it
    url          varchar,                     -- canonical URL (null: the item has no link)
    link         varchar,                     -- the link as the feed gave it
    guid         varchar,
    title        varchar,
    summary      varchar,
    author       varchar,
    published_at timestamptz,
    language     varchar,
    entry_hash   varchar not null,
    reason       varchar not null,            -- flood | cycle_time | host_wait
    queued_at    timestamptz not null         -- first put off
);

-- What `runs.new_articles` no longer mixes in: pages fetched again after a failure or a deferral,
-- entries waiting for a later cycle, and outlets' changes held back by the daily revision limit.
alter table runs add column retried_articles integer;
alter table runs add column waiting_entries integer;  -- in entry_backlog after the load
alter table runs add column revisions_held integer;
