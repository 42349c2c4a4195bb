-- current_classifications: the current model's decision on each article.
--
-- One row per classified article: the classification by the newest model version that scored it.
-- Versions are ordered by models.created_at; a version missing from `models` (the base model, or
-- one not recorded yet) is dated by its own classified_at. So right after a retrain, before
-- `reclassify` has run, an article keeps its last decision instead of dropping out.
--
-- Columns: article_id, model_version, score (0-1), is_relevant, topics (topic ids),
--          departments (codes of the departments the text places things in, names in `departments`),
--          classified_at, primary_department (the place of the event: a `departments` code, or null),
--          province, district (INEI ubigeo of that place when the text names them; names in
--          `ubigeo_provinces`, `ubigeo_districts`).

with versions as (
    select model_version, created_at from models
),

dated as (
    select
        c.article_id,
        c.model_version,
        c.score,
        c.is_relevant,
        c.topics,
        c.departments,
        c.classified_at,
        c.primary_department,
        c.province,
        c.district,
        coalesce(v.created_at, c.classified_at) as version_at
    from classifications c
    left join versions v using (model_version)
),

final as (
    select
        article_id, model_version, score, is_relevant, topics, departments, classified_at,
        primary_department, province, district
    from dated
    qualify row_number() over (
        partition by article_id order by version_at desc, classified_at desc, model_version desc
    ) = 1
)

select * from final
