-- last_doc: the last doc number given, $last_doc.
delete from search_state;
insert into search_state values ($last_doc);
