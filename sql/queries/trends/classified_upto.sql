-- classified_upto: the newest classification.
select max(classified_at)
from classifications
