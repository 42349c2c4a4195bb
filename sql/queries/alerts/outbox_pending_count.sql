-- outbox_pending_count: how many emails are neither sent nor given up.
select count(*)
from alert_outbox
where sent_at is null and given_up_at is null
