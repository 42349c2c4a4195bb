-- insert: the fresh articles' stories (`_stories_new`, an Arrow table), recorded once, and carried into
-- their story_index rows.
insert into article_stories
select * exclude (story_start) from _stories_new n
where not exists (select 1 from article_stories s where s.article_id = n.article_id);

update story_index set story_id = n.story_id, story_start = n.story_start
from _stories_new n
where story_index.article_id = n.article_id;
