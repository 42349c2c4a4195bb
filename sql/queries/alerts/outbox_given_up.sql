-- outbox_given_up: refused too often: never tried again.
update alert_outbox
set given_up_at = $now
where alert_id = $alert_id
