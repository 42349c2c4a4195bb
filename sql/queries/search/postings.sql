-- postings: the batch's term frequencies join the recent postings, sorted by term; its docs are
-- recorded, indexed at $now; returns how many docs the batch added, and the last doc number.
insert into search_postings_recent
select t.term_id, c.doc, c.tf, c.length
from _search_counts c
join search_terms t using (term)
order by t.term_id, c.doc;

insert into search_docs select doc, article_id, len(tokens), $now from _search_new;

select count(*), max(doc) from _search_new;
