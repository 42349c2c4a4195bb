-- outbox_status: the outbox counted by status (sent, given up, pending) and kind, with the newest
-- email and one error of each group (`python -m pipeline alerts status`).
select case when sent_at is not null then 'sent' when given_up_at is not null then 'given up'
            else 'pending' end as status,
       kind, count(*) as emails, max(created_at) as newest, any_value(last_error) as an_error
from alert_outbox
group by all
order by status, kind
