-- classifications: the rows scored by the load (`_classified`) join the precomputed ones in `_ready`;
-- they replace that version's earlier rows of the same articles (other versions' rows stay). Returns
-- how many are relevant.
insert into _ready select * from _classified;

delete from classifications c
using _ready n
where c.article_id = n.article_id and c.model_version = n.model_version;

insert into classifications select * from _ready;

select count(*) filter (where is_relevant) from _ready;
