-- stories_mailed: mark stories as mailed in digest $digest_id: no later digest lists them again.
insert into alert_stories (story_id, digest_id, queued_at)
select unnest($story_ids::varchar[]), $digest_id, $now
on conflict do nothing
