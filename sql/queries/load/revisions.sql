-- revisions: an outlet's correction of an extracted article: the old text becomes a revision, replaced
-- at $now.
insert into article_revisions
select a.article_id, a.revision, a.title, a.summary, a.text, a.content_hash, a.fetched_at, $now
from articles a join _change c using (article_id)
where c.change = 'revised'
  and not exists (select 1 from article_revisions r
                  where r.article_id = a.article_id and r.revision = a.revision)
