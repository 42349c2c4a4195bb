-- tokenise: `_search_new`, one row per article of `_search_source` (an Arrow table of what source.sql
-- read, in small batches, which DuckDB tokenises in parallel): its doc number (after the last one
-- given), its index words (the search_words macro; the title counts twice: a word in the headline
-- says more than one in the body), whether it is English, and its words as written with their accents,
-- for the stemmer (operación → oper). Then `_search_counts`: each doc's term frequencies, with the
-- doc's length (joining the token lists back in later would carry every token of the batch through the
-- join: minutes for a few thousand articles).
create or replace temp table _search_new as
select article_id,
       (select coalesce(max(last_doc), 0) from search_state)
           + row_number() over (order by article_id) as doc,
       search_words(concat_ws(' ', title, title, body)) as tokens,
       coalesce(language, '') like 'en%' as english,
       list_filter(
           regexp_split_to_array(lower(concat_ws(' ', title, body)), '[^\p{L}\p{N}]+'),
           w -> w <> strip_accents(w)
       ) as accented
from _search_source;

create or replace temp table _search_counts as
select doc, term, count(*)::integer as tf, any_value(length)::integer as length
from (select doc, len(tokens) as length, unnest(tokens) as term from _search_new)
group by doc, term;
