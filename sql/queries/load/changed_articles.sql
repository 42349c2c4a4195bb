-- changed_articles: the articles whose text is new or changed (classified, assigned to stories and
-- indexed again), in id order.
select article_id, change
from _change
where change in ('new', 'revised', 'improved')
order by article_id
