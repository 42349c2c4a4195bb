-- sources: which feeds carried each stored article of the cycle, first seen when (`_stage_sightings`).
insert into article_sources
select s.article_id, s.feed, min(s.seen_at)
from _stage_sightings s
where exists (select 1 from articles a where a.article_id = s.article_id)
  and not exists (select 1 from article_sources x
                  where x.article_id = s.article_id and x.feed = s.feed)
group by s.article_id, s.feed
