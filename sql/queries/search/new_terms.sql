-- new_terms: the words of the batch not indexed yet, each with the most accented way it was written
-- (policía rather than policia: its Snowball stem is taken from that) and whether only English
-- articles used it.
with new_terms as (
    select distinct term from _search_counts c
    where not exists (select 1 from search_terms t where t.term = c.term)
),

written as (
    select strip_accents(w) as term, arg_max(w, strlen(w)) as sample
    from (select unnest(accented) as w from _search_new)
    group by 1
),

languages as (
    select c.term, bool_and(n.english) as english
    from _search_counts c
    join _search_new n using (doc)
    where c.term in (select term from new_terms)
    group by c.term
)

select n.term, coalesce(w.sample, n.term), coalesce(l.english, false)
from new_terms n
left join written w using (term)
left join languages l using (term)
order by n.term
