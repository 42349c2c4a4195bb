-- state: up to which classification the trend facts are current, and for which set of models.
select classified_upto, models_signature
from trend_state
