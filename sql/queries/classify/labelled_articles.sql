-- Analysts' labels joined to the articles they label: the last label of an article wins
-- (ties in labelled_at broken by insertion order), and articles without text are left out.
with ranked as (
    select
        article_id,
        label,
        labelled_by,
        labelled_at,
        row_number() over (partition by article_id order by labelled_at desc, rowid desc) as recency
    from labels
),

latest as (
    select article_id, label, labelled_by, labelled_at
    from ranked
    where recency = 1
),

final as (
    select
        latest.article_id,
        latest.label,
        coalesce(articles.title, '') as title,
        coalesce(articles.text, articles.summary, '') as text,
        articles.language,
        latest.labelled_by,
        latest.labelled_at
    from latest
    join articles using (article_id)
    where coalesce(articles.text, articles.summary, '') <> '' or coalesce(articles.title, '') <> ''
)

select * from final
order by article_id
