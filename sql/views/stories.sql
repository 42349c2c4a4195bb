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
--   primary_department, primary_department_name   where it happened (ubigeo and name): the
--                        primary department most of its relevant articles give (on a tie, that of
--                        the earliest of them); null when none gives one
-- Reads `trend_stories`, kept in step by each load with `relevant_articles` (migrations 003, 008).
-- All of a story's articles, relevant or not, are in `article_stories`.

with story_facts as (
    select * from trend_stories
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
        s.primary_department,
        pd.name as primary_department_name
    from story_facts s
    left join departments pd on pd.ubigeo = s.primary_department
    left join first_urls u using (story_id)
    cross join department_names n
)

select * from final
