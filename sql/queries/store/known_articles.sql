-- known_articles: what is stored of the articles in `_lookup_ids` (an Arrow table of article_id):
-- enough for a cycle to skip an item already stored before it downloads anything.
select a.article_id, a.entry_hash, a.extraction_status, a.extraction_attempts
from articles a
join _lookup_ids using (article_id)
