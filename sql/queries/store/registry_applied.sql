-- registry_applied: the key of the feeds.toml that the `feeds` table lists (none: parse the file), if
-- the table's registry rows are still those the load made of it (a digest of them, computed again:
-- tens of milliseconds at 100,000 feeds): rows edited or damaged since are not trusted.
with current as (
    select coalesce(bit_xor(hash(name, configured_url, language, enabled, registry_position)), 0) as feeds_digest
    from feeds
    where registry_position is not null
),

final as (
    select r.key
    from registry_applied r
    join current c using (feeds_digest)
)

select key from final
