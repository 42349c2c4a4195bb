-- current_classifications: the current model's decision on each article.
--
-- One row per classified article: the classification by the newest model version that scored it.
-- Versions are ordered by models.created_at; a version missing from `models` (the base model, or one
-- not recorded yet) is dated by its own classified_at. So right after a retrain, before
-- `reclassify` has run, an article keeps its last decision instead of dropping out. The rule is the
-- macro current_decisions (sql/macros/current_decisions.sql), which the load's trend refresh applies
-- too: `relevant_articles`, `stories` and the daily counts follow the same decisions.
--
-- Columns: article_id, model_version, score (0-1), is_relevant, topics (topic ids),
--          departments (codes of the departments the text places things in, names in `departments`),
--          classified_at, primary_department (the place of the event: a `departments` code, or null),
--          province, district (INEI ubigeo of that place when the text names them; names in
--          `ubigeo_provinces`, `ubigeo_districts`).

with decisions as (
    select * from current_decisions('classifications')
),

final as (
    select
        article_id, model_version, score, is_relevant, topics, departments, classified_at,
        primary_department, province, district
    from decisions
)

select * from final
