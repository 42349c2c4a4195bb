-- active_keys: the alert keys of one kind ($prefix, e.g. 'spike:%') whose episode is active.
select alert_key
from alert_state
where alert_key like $prefix and state = 'active'
