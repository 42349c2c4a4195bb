-- registry_applied: the key of the registry the `feeds` table now lists ($key, null for feeds given
-- otherwise than as feeds.toml's bytes), in the transaction that made it so.
delete from registry_applied;
insert into registry_applied
select $key, $now
where $key is not null
