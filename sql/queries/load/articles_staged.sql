-- articles_staged: the staged articles (`_stage_articles`) as `_new`, one row an article: the
-- successfully extracted one, else the latest. The order is total (ties broken by the hashes and the
-- feed), so every use of the view picks the same row. A view, not a copy: copying every staged text
-- into a temp table was a third of loading them.
create or replace temp view _new as
select * from _stage_articles
qualify row_number() over (
    partition by article_id
    order by extraction_status = 'ok' desc, fetched_at desc, content_hash, entry_hash, feed) = 1
