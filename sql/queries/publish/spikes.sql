-- spikes: the spikes of the period ($start to $end), the latest and strongest first.
select day, dimension, key, name, stories, expected, robust_z, baseline_ok
from spikes
where day between $start and $end
order by day desc, robust_z desc
