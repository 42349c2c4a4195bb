-- batch_done: the batch's scratch tables go.
drop table _search_new;
drop table _search_counts;
