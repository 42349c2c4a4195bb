-- count_models: how many retrained versions `models` holds (the next one is r<count + 1>).
select count(*)
from models
