-- Title, text (the feed summary when no text was extracted), language and URL of the articles whose ids
-- are in the registered relation _vigia_ids.
with wanted as (
    select article_id from _vigia_ids
),

final as (
    select
        articles.article_id,
        coalesce(articles.title, '') as title,
        coalesce(articles.text, articles.summary, '') as text,
        articles.language,
        articles.url
    from articles
    join wanted using (article_id)
)

select * from final
order by article_id
