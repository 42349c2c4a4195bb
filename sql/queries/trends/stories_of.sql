-- stories_of: the stories of the articles matching {wanted}.
select distinct story_id
from article_stories
where {wanted}
