-- outbox_add: queue one email; an alert id already queued is left as it is.
insert into alert_outbox
    (alert_id, kind, recipients, subject, text_body, html_body, chart_png, created_at)
values ($alert_id, $kind, $recipients, $subject, $text_body, $html_body, $chart_png, $now)
on conflict (alert_id) do nothing
