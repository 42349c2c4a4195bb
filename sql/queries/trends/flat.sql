-- flat: the flattened facts of one dimension ({table}: trend_topics or trend_departments, keyed by
-- {key}: topic or ubigeo, one row a relevant article and key, from the list column {source} of
-- `_trend_new`) replaced for the stories matching {stale}, with their counting flags: a story counts
-- once per key, on its earliest relevant article that has it; an outlet once per day and key, on its
-- first article there. The (day, key) groups whose outlet flags change are those of the rows going
-- and coming.
create or replace temp table _trend_groups as
select distinct day, {key} from {table} where {stale}
union
select distinct day, unnest({source}) from _trend_new;

delete from {table} where {stale};

insert into {table}
select day, {key}, story_id, article_id, outlet,
       row_number() over (partition by story_id, {key} order by day, event_at, article_id) = 1,
       false
from (select distinct day, event_at, story_id, article_id, outlet, unnest({source}) as {key}
      from _trend_new);

create or replace temp table _trend_regroup as
select t.* exclude (outlet_first) from {table} t join _trend_groups g using (day, {key});

delete from {table} t using _trend_groups g where t.day = g.day and t.{key} = g.{key};

insert into {table}
select *, row_number() over (partition by day, {key}, outlet order by article_id) = 1
from _trend_regroup;

drop table _trend_groups;

drop table _trend_regroup;
