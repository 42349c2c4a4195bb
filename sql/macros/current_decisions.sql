-- current_decisions(source): the current model's decision on each article among the classifications in
-- `source` (the name of a table or view with the columns of `classifications`, as a string). It is the
-- rule of the `current_classifications` view (current_decisions('classifications')), and the load's
-- trend refresh applies it to the articles it touches, so the two never disagree.
--
-- One row per article: the classification by the newest model version that scored it. Versions are
-- ordered by models.created_at; a version missing from `models` (the base model, or one not recorded
-- yet) is dated by its own classified_at. So right after a retrain, before `reclassify` has run, an
-- article keeps its last decision instead of dropping out.
create or replace macro current_decisions(source) as table
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
    from query_table(source) c
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

select * from final;
