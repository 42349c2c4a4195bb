-- articles_keep: the page could not be fetched again: keep the good text, remember what the feed now
-- says of the item.
update articles set entry_hash = n.entry_hash, summary = n.summary, updated_at = $now
from _new n join _change c using (article_id)
where articles.article_id = n.article_id and c.change = 'keep'
  and articles.entry_hash <> n.entry_hash
