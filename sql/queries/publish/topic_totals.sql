-- topic_totals: stories per topic in the period (from $start) and in the one before it (from
-- $previous_start), to $end; the busiest first.
select topic,
       coalesce(sum(stories) filter (where day >= $start), 0),
       coalesce(sum(stories) filter (where day < $start), 0)
from daily_topic_counts
where day between $previous_start and $end
group by topic
order by 2 desc, 3 desc, topic
