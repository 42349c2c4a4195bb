-- outbox_sent: the server accepted the email at $sent_at (an email sent twice keeps its first time).
update alert_outbox
set sent_at = coalesce(sent_at, $sent_at), attempts = attempts + 1, last_attempt_at = $sent_at,
    last_error = null
where alert_id = $alert_id
