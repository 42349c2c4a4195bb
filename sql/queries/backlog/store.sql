-- store: inside the load's transaction, drop the backlog entries the cycle took (`_stage_taken`) and
-- add those it put off (`_stage_deferred`), keeping the first queued_at of one put off again. An
-- entry that became an article meanwhile (through another feed of the same cycle) waits for nothing.
delete from entry_backlog
where article_id in (select article_id from _stage_taken);

insert into entry_backlog (
    feed, article_id, url, link, guid, title, summary, author, published_at, language, entry_hash,
    reason, queued_at
)
select
    feed, article_id, url, link, guid, title, summary, author, published_at, language, entry_hash,
    reason, queued_at
from _stage_deferred d
where not exists (select 1 from entry_backlog b where b.article_id = d.article_id)
  and not exists (select 1 from _stage_articles a where a.article_id = d.article_id)
qualify row_number() over (partition by article_id order by queued_at, feed) = 1;

select count(*) from entry_backlog;
