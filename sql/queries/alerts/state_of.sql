-- state_of: what is remembered of one alert key (a spike's topic or department, a feed, freshness):
-- whether its episode is active, and when it was last mailed.
select state, last_alert_at
from alert_state
where alert_key = $key
