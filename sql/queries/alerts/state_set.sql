-- state_set: record an alert key's state. `since` keeps its date while the state stays the same;
-- `last_alert_at` moves only when an email goes out for it ($alerted).
insert into alert_state (alert_key, state, reason, since, last_alert_at)
values ($key, $state, $reason, $now, case when $alerted then $now end)
on conflict (alert_key) do update set
    state = excluded.state,
    reason = excluded.reason,
    since = case when alert_state.state = excluded.state then alert_state.since
                 else excluded.since end,
    last_alert_at = case when $alerted then $now else alert_state.last_alert_at end
