-- registry_applied: the key of the feeds.toml that the `feeds` table lists (none: parse the file).
select key
from registry_applied
