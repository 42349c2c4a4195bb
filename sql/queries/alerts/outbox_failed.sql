-- outbox_failed: one more attempt that failed ($rejected: 1 when the server refused the email, 0 when
-- it could not be reached); returns the refusals so far.
update alert_outbox
set attempts = attempts + 1, rejections = rejections + $rejected, last_attempt_at = $now, last_error = $error
where alert_id = $alert_id
returning rejections
