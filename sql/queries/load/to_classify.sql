-- to_classify: the stored text of the articles of `_classify_ids` that no usable precomputed row
-- (`_ready`) covers, in id order: what the load's classifier scores.
select a.article_id, coalesce(a.title, ''), coalesce(a.text, ''), a.language, a.url
from articles a
join _classify_ids using (article_id)
where a.article_id not in (select article_id from _ready)
order by a.article_id
