-- registry_applied: the key of the registry the `feeds` table now lists ($key, null for feeds given
-- otherwise than as feeds.toml's bytes), in the transaction that made it so, with a digest of the
-- rows it made (the same as store/registry_applied.sql's).
delete from registry_applied;
insert into registry_applied
with final as (
    select bit_xor(hash(name, configured_url, language, enabled, registry_position)) as feeds_digest
    from feeds
    where registry_position is not null
)

select $key, coalesce(feeds_digest, 0), $now
from final
where $key is not null
