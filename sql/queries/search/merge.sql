-- merge: the recent postings move to search_postings, sorted by term, so each sorted run's row groups
-- cover narrow term ranges and a query reads a few of them.
insert into search_postings select * from search_postings_recent order by term_id, doc;
delete from search_postings_recent;
