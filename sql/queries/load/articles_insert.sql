-- articles_insert: the new articles, first seen at $now.
insert into articles (article_id, url, feed, guid, title, summary, text, author,
                      published_at, fetched_at, language, extraction_status, extraction_error,
                      extraction_attempts, entry_hash, content_hash, revision, first_seen_at,
                      updated_at)
select n.article_id, n.url, n.feed, n.guid, n.title, n.summary, n.text, n.author, n.published_at,
       n.fetched_at, n.language, n.extraction_status, n.extraction_error, n.extraction_attempts,
       n.entry_hash, n.content_hash, 1, $now, $now
from _new n join _change c using (article_id)
where c.change = 'new'
