-- waiting: the oldest $per_feed entries the backlog holds for each feed of `_backlog_feeds`
-- (an Arrow table of feed names), oldest first: a cycle takes them before anything newer of the feed.
with waiting as (
    select
        feed, article_id, url, link, guid, title, summary, author, published_at, language, entry_hash,
        reason, queued_at,
        row_number() over (partition by feed order by queued_at, article_id) as place
    from entry_backlog
    where feed in (select feed from _backlog_feeds)
),

final as (
    select
        feed, article_id, url, link, guid, title, summary, author, published_at, language, entry_hash,
        reason, queued_at
    from waiting
    where place <= $per_feed
    order by queued_at, article_id
)

select * from final
