-- save_model: record a retrained version, its params and metrics (JSON text).
insert into models (model_version, created_at, parent_version, params, metrics, notes)
values ($model_version, $created_at, $parent_version, $params, $metrics, $notes)
