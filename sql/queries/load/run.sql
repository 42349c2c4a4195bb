-- run: record the load of run $run_id in `runs` (once: a load retried with the same run adds nothing).
-- `started_at` is the first fetch of the run, `finished_at` the load's time; the counts are the
-- run's summary (pipeline.records.RunSummary).
insert into runs (
    run_id, started_at, finished_at, feeds_ok, feeds_failed, items_seen, new_articles, updated_articles,
    relevant, model_version, retried_articles, waiting_entries, revisions_held
)
select
    $run_id, $started_at, $finished_at, $feeds_ok, $feeds_failed, $items_seen, $new_articles,
    $updated_articles, $relevant, $model_version, $retried_articles, $waiting_entries, $revisions_held
where not exists (select 1 from runs where run_id = $run_id)
