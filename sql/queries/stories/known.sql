-- known: the story of each article matching {wanted} that has one.
select article_id, story_id
from article_stories
where {wanted}
