-- models_signature: a fingerprint of `models` (how many, the newest): a change rebuilds every fact.
select count(*) || '/' || coalesce(max(created_at)::varchar, '')
from models
