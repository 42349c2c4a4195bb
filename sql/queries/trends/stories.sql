-- stories: the facts of the stories matching {stale} replaced by `_trend_new`'s: trend_articles, and
-- trend_stories (one row a story: its first title, first and last event, day, articles, outlets,
-- topics, departments, primary department). `_trend_new` then learns each row's story department.
delete from trend_articles where {stale};

insert into trend_articles select * from _trend_new;

delete from trend_stories where {stale};

insert into trend_stories
with facts as (
    select story_id, arg_min(title, (event_at, article_id)) as title, min(event_at) as first_event_at,
           max(event_at) as last_event_at, min(day) as day, count(*) as articles,
           count(distinct outlet) as outlets, list_sort(list_distinct(list(outlet))) as outlet_names,
           list_sort(list_distinct(flatten(list(topics)))) as topics,
           list_sort(list_distinct(flatten(list(departments)))) as departments
    from _trend_new
    group by story_id
),

-- A story's primary department: the one most of its relevant articles give; on a tie, that
-- of the earliest of them (migration 008).
given as (
    select story_id, primary_department, count(*) as n, min((event_at, article_id)) as first
    from _trend_new
    where primary_department is not null
    group by story_id, primary_department
),

chosen as (
    select story_id, arg_min(primary_department, (-n, first)) as primary_department
    from given
    group by story_id
)

select f.*, c.primary_department
from facts f
left join chosen c using (story_id);

-- A story counts in one department, the one where it happened (its primary department), not in
-- every department its texts name.
alter table _trend_new add column story_departments varchar[];

update _trend_new set story_departments = list_filter([t.primary_department], d -> d is not null)
from trend_stories t
where t.story_id = _trend_new.story_id;
