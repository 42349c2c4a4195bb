-- no_precomputed: an empty `_ready` (the load scores every article itself).
create or replace temp table _ready as select * from classifications where false
