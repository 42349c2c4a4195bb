-- label_article: the stored article an analyst names, by its id or its canonical URL.
select article_id, title
from articles
where article_id = $article or url = $url
limit 1
