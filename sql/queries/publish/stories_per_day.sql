-- stories_per_day: how many stories each Peru day of $start to $end has.
select day, count(*)
from stories
where day between $start and $end
group by day
