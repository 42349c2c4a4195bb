-- source: the articles to index ({wanted}): title, text (else summary) and language.
select article_id, title, coalesce(text, summary) as body, language
from articles
where {wanted}
