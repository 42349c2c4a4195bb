-- demo_trends: what `python -m pipeline demo` shows (and prints) once its cycle is loaded.
select day, topic, stories, articles
from daily_topic_counts
order by day desc, stories desc, topic
limit 12
