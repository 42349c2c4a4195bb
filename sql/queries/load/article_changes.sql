-- article_changes: how each staged article changes what is stored (`_change`):
--   new       never stored
--   keep      stored with text, and the page could not be had again: the text stays
--   held      the outlet changed the text, but the article already has $max_revisions revisions from the
--             24 hours before $now: left as it is, entry hash included, so the change is fetched and
--             stored again when the feed next lists it, once the day allows
--   revised   the outlet changed an extracted article: the old text becomes a revision
--   improved  a text where there was none (a retried page), or a better one
--   touched   only what the feed says, or the extraction's status or attempts, changed
--   same      nothing changed
-- "retried": the page of an article stored before was asked again for the same item (a retry after a
-- failure, or a deferral), not because the outlet changed it.
create or replace temp table _change as
with recent as (
    select article_id, count(*) as revisions
    from article_revisions
    where replaced_at > $now::timestamptz - interval 1 day
      and article_id in (select article_id from _new)
    group by article_id
)
select n.article_id,
       case
         when a.article_id is null then 'new'
         when a.extraction_status = 'ok' and n.extraction_status <> 'ok' then 'keep'
         when a.extraction_status = 'ok' and a.content_hash <> n.content_hash
              and coalesce(r.revisions, 0) >= $max_revisions then 'held'
         when a.extraction_status = 'ok' and a.content_hash <> n.content_hash then 'revised'
         when a.content_hash <> n.content_hash then 'improved'
         when a.entry_hash <> n.entry_hash or a.extraction_status <> n.extraction_status
              or a.extraction_attempts <> n.extraction_attempts then 'touched'
         else 'same'
       end as change,
       a.article_id is not null and a.entry_hash = n.entry_hash as retried
from _new n
left join articles a using (article_id)
left join recent r using (article_id)
