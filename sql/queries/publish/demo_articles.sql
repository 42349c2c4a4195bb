-- demo_articles: what the demo shows instead when the trend views are missing: articles per feed.
select feed, count(*) as articles from articles group by feed order by feed
