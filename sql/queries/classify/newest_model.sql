-- The current model version: the most recently created row of `models`.
with ordered as (
    select model_version, created_at, parent_version, params
    from models
),

final as (
    select * from ordered
    order by created_at desc, model_version desc
    limit 1
)

select * from final
