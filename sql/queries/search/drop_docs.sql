-- drop_docs: these docs ({gone}: a condition on doc) go, postings and all.
delete from search_postings_recent where {gone};
delete from search_postings where {gone};
delete from search_docs where {gone};
