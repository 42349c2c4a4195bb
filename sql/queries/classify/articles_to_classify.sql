-- Stored articles to score with model version $version: those it has not scored yet, or all of
-- them when $all is true (their rows for that version are then replaced).
with scored as (
    select article_id
    from classifications
    where model_version = $version
),

final as (
    select articles.article_id
    from articles
    where $all or articles.article_id not in (select article_id from scored)
)

select * from final
order by article_id
