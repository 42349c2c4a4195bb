-- 004_alerts: what the alert emails remember (pipeline/alerts, docs/alerts.md).
--   * alert_outbox: every email, queued in the same transaction as the decision to send it, and
--     sent later by a flush; it survives an SMTP outage, and a sent one is never sent again;
--   * alert_stories: the stories already put in a digest (a story is mailed once);
--   * alert_state: spikes, quiet feeds and stale data, so each raises one email (and one recovery).

create table if not exists alert_outbox (
    alert_id        varchar primary key,   -- '<kind>:<what>': a retried task queues nothing twice
    kind            varchar not null,      -- digest | spike | feeds | freshness | task_failed
    recipients      varchar[] not null,    -- validated plain addresses; the only envelope recipients
    subject         varchar not null,      -- already free of CR, LF and control characters
    text_body       varchar not null,
    html_body       varchar,               -- every feed-supplied string already escaped
    chart_png       blob,                  -- shown inline by html_body as cid:<alert_id digest>
    created_at      timestamptz not null,
    attempts        integer not null default 0,
    rejections      integer not null default 0,  -- refusals of this very message (5xx); outages do not count
    last_attempt_at timestamptz,
    last_error      varchar,
    sent_at         timestamptz,           -- null: pending
    given_up_at     timestamptz            -- rejected alert_max_attempts times: no longer tried
);

create table if not exists alert_stories (
    story_id  varchar primary key,
    digest_id varchar not null,            -- the digest round it went out in (alert_outbox ids start with it)
    queued_at timestamptz not null
);

create table if not exists alert_state (
    alert_key     varchar primary key,     -- 'spike:topic:extortion', 'feed:diario-sur', 'freshness'
    state         varchar not null,        -- active | ok
    reason        varchar,
    since         timestamptz not null,    -- when it entered this state
    last_alert_at timestamptz              -- when an email about it was last queued
);
