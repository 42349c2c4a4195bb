-- top_stories: the period's top $per_topic stories of each topic ($start to $end): most outlets, then
-- most articles, then the latest.
with period_stories as (
    select story_id, title, url, first_event_at, outlets, articles, outlet_names,
           department_names, unnest(topics) as topic
    from stories
    where day between $start and $end
),

ranked as (
    select *, row_number() over (
        partition by topic order by outlets desc, articles desc, first_event_at desc, story_id
    ) as place
    from period_stories
)

select * from ranked where place <= $per_topic order by topic, place
