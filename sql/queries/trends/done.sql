-- done: the refresh's scratch tables go.
drop table _trend_new;

drop view _trend_classifications;
