-- 001_core: the tables of one ingestion cycle.
-- Every timestamp is timestamptz (UTC instants); views convert to America/Lima for daily counts.

-- One row per configured feed: its current URL, HTTP validators and last outcome.
create table if not exists feeds (
    name                 varchar primary key,
    url                  varchar not null,   -- current URL (moves only when every redirect hop was permanent)
    configured_url       varchar not null,   -- the URL in feeds.toml
    language             varchar,
    enabled              boolean not null default true,
    etag                 varchar,
    last_modified        varchar,
    added_at             timestamptz,
    last_fetch_at        timestamptz,
    last_outcome         varchar,
    last_status_code     integer,
    last_error           varchar,
    last_success_at      timestamptz,
    last_new_item_at     timestamptz,
    last_full_fetch_at   timestamptz,        -- last fetch sent without validators
    consecutive_failures integer not null default 0,
    next_fetch_at        timestamptz,        -- back-off or Retry-After; null = due now
    gone_at              timestamptz         -- answered 410 Gone: no longer polled
);

-- One row per HTTP fetch of a feed.
create table if not exists fetches (
    run_id      varchar not null,
    feed        varchar not null,
    url         varchar not null,
    started_at  timestamptz not null,
    outcome     varchar not null,            -- see README "fetch outcomes"
    status_code integer,
    bytes       bigint not null default 0,
    duration_ms integer not null default 0,
    error       varchar,
    items       integer not null default 0,  -- entries the feed held
    new_items   integer not null default 0,  -- entries not stored before
    primary key (run_id, feed)
);

-- One row per article (canonical URL, or a deterministic key for items without a link).
create table if not exists articles (
    article_id        varchar primary key,
    url               varchar,
    feed              varchar not null,      -- the first feed it was seen in
    guid              varchar,
    title             varchar,
    summary           varchar,
    text              varchar,
    author            varchar,
    published_at      timestamptz,
    fetched_at        timestamptz not null,
    language          varchar,
    extraction_status varchar not null,      -- ok | feed_only | a fetch outcome of the page
    extraction_error  varchar,
    extraction_attempts integer not null default 1,  -- pages that failed transiently are retried
    entry_hash        varchar not null,      -- what the feed said of the item; changes mean an update
    content_hash      varchar not null,      -- title + text as stored
    revision          integer not null default 1,
    first_seen_at     timestamptz not null,
    updated_at        timestamptz not null
);

-- Every feed an article appeared in (an article carried by two feeds of one outlet is stored once).
create table if not exists article_sources (
    article_id    varchar not null,
    feed          varchar not null,
    first_seen_at timestamptz not null,
    primary key (article_id, feed)
);

-- Earlier versions of updated articles: an update replaces the articles row and keeps the old one here.
create table if not exists article_revisions (
    article_id   varchar not null,
    revision     integer not null,
    title        varchar,
    summary      varchar,
    text         varchar,
    content_hash varchar not null,
    fetched_at   timestamptz not null,
    replaced_at  timestamptz not null,
    primary key (article_id, revision)
);

-- Relevance decisions; one row per article and model version, so versions can be compared.
create table if not exists classifications (
    article_id    varchar not null,
    model_version varchar not null,
    score         double not null,
    is_relevant   boolean not null,
    topics        varchar[],
    departments   varchar[],                 -- ubigeo codes; names in table departments
    evidence      json,
    classified_at timestamptz not null,
    primary key (article_id, model_version)
);

-- Model versions built by `python -m pipeline retrain`; the newest is the current one.
create table if not exists models (
    model_version  varchar primary key,
    created_at     timestamptz not null,
    parent_version varchar,
    params         json,
    metrics        json,
    notes          varchar
);

-- Analysts' corrections: the last label of an article wins.
create table if not exists labels (
    article_id  varchar not null,
    label       varchar not null check (label in ('relevant', 'not_relevant', 'ambiguous')),
    labelled_by varchar,
    labelled_at timestamptz not null default current_timestamp,
    note        varchar
);

-- Peru's departments, Lima Metropolitana and Callao, by ubigeo code (rows come from 002).
create table if not exists departments (
    ubigeo varchar primary key,
    name   varchar not null
);

-- One row per cycle: what the one-line summary printed.
create table if not exists runs (
    run_id       varchar primary key,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    feeds_ok     integer,
    feeds_failed integer,
    items_seen   integer,
    new_articles integer,
    updated_articles integer,
    relevant     integer,
    model_version varchar
);
