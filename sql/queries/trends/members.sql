-- members: every article of the stories matching {stale}.
select article_id
from article_stories
where {stale}
