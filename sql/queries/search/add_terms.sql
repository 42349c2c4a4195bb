-- add_terms: the new words (`_search_stems`: term and stem) get the next term ids, in word order.
insert into search_terms (term, term_id, stem)
select term,
       (select coalesce(max(term_id), 0) from search_terms) + row_number() over (order by term),
       stem
from _search_stems
