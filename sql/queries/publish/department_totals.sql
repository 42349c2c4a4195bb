-- department_totals: stories per department in the period (from $start) and in the one before it
-- (from $previous_start), to $end; the busiest first.
select ubigeo, any_value(department),
       coalesce(sum(stories) filter (where day >= $start), 0),
       coalesce(sum(stories) filter (where day < $start), 0)
from daily_department_counts
where day between $previous_start and $end
group by ubigeo
order by 3 desc, 4 desc, ubigeo
