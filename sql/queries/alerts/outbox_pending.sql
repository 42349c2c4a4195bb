-- outbox_pending: the oldest $limit emails neither sent nor given up, oldest first.
select alert_id, kind, recipients, subject, text_body, html_body, chart_png, rejections
from alert_outbox
where sent_at is null and given_up_at is null
order by created_at, alert_id
limit $limit
