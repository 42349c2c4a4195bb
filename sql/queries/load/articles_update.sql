-- articles_update: the articles revised, improved or touched take the staged row (a revision counts
-- one more); the date the feed gave is kept when the new row has none.
update articles set
    title = n.title, summary = n.summary, text = n.text, author = n.author,
    published_at = coalesce(n.published_at, articles.published_at),
    fetched_at = n.fetched_at, language = n.language,
    extraction_status = n.extraction_status, extraction_error = n.extraction_error,
    extraction_attempts = n.extraction_attempts, entry_hash = n.entry_hash,
    content_hash = n.content_hash,
    revision = articles.revision + (c.change = 'revised')::integer,
    updated_at = $now
from _new n join _change c using (article_id)
where articles.article_id = n.article_id and c.change in ('revised', 'improved', 'touched')
