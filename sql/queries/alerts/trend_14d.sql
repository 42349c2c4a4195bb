-- trend_14d: stories per day (Peru) of each topic over the 14 days up to $day, for the digest chart.
-- Columns: day, topic, stories. Days without stories are absent (the chart fills them with 0).
with recent as (
    select day, topic, stories
    from daily_topic_counts
    where day > $day - interval 14 days and day <= $day
),

final as (
    select * from recent
)

select * from final
order by day, topic
