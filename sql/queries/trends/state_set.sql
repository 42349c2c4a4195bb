-- state_set: the facts are current at $now, up to the classification $upto, for the models $signature.
delete from trend_state;
insert into trend_state values ($now, $upto, $signature);
