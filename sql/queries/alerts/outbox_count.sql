-- outbox_count: how many rows the outbox holds for one alert id (0 or 1).
select count(*)
from alert_outbox
where alert_id = $alert_id
