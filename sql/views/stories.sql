-- stories: one row per story with at least one relevant article: the incident, however many
-- outlets reported it.
--
-- An article joins the story of an earlier article within 72 hours when it has the same
-- normalised title or near-duplicate text (MinHash, estimated Jaccard >= 0.5); see
-- pipeline/stories.py. The story_id is the article_id of its first article and never changes.
-- Columns:
--   story_id
--   title                the title of its earliest relevant article
--   url                  that article's URL
--   first_event_at, last_event_at   earliest and latest event time of its relevant articles (UTC)
--   day                  the Peru (America/Lima) date of first_event_at
--   articles, outlets    relevant articles, and distinct outlets, that carried it
--   outlet_names         those outlets, sorted
--   topics, departments  every topic and department (ubigeo) its articles were given
--   department_names     the same departments by name (from `departments`), in the same order
--   primary_department, primary_department_name   the department the story happened in (ubigeo
--                        and name): the one most of its articles name (on a tie, the one its
--                        earliest article names first); null when none was identified
-- Reads `trend_stories`, kept in step by each load with `relevant_articles` (migration 003). All
-- of a story's articles, relevant or not, are in `article_stories`.

with story_facts as (
    select * from trend_stories
),

-- primary_department: the department most of the story's relevant articles name; on a tie, the
-- one its earliest article names first. Once trend_stories carries the classifier's
-- primary_department (migration 008), read that here instead.
named as (
    select
        story_id,
        unnest(departments) as ubigeo,
        -- earliest article first, then the order the classifier listed the departments in
        epoch_ms(event_at) * 100 + generate_subscripts(departments, 1) as named_order
    from trend_articles
),

primary_departments as (
    select story_id, arg_min(ubigeo, (-mentions, first_named)) as primary_department
    from (
        select story_id, ubigeo, count(*) as mentions, min(named_order) as first_named
        from named
        group by story_id, ubigeo
    )
    group by story_id
),

department_names as (
    select map(list(ubigeo), list(name)) as names from departments
),

first_urls as (
    select story_id, arg_min(url, (event_at, article_id)) as url
    from trend_articles
    group by story_id
),

final as (
    select
        s.story_id,
        s.title,
        u.url,
        s.first_event_at,
        s.last_event_at,
        s.day,
        s.articles,
        s.outlets,
        s.outlet_names,
        s.topics,
        s.departments,
        list_transform(s.departments, code -> coalesce(n.names[code], code)) as department_names,
        p.primary_department,
        pd.name as primary_department_name
    from story_facts s
    left join primary_departments p using (story_id)
    left join departments pd on pd.ubigeo = p.primary_department
    left join first_urls u using (story_id)
    cross join department_names n
)

select * from final
