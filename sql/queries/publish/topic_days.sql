-- topic_days: stories per topic and Peru day, $start to $end.
select topic, day, stories
from daily_topic_counts
where day between $start and $end
