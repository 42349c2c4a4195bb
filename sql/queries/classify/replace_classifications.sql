-- replace_classifications: the classifications in `_vigia_classified` (an Arrow table) replace the rows
-- of the same article and model version; other versions' rows are kept.
delete from classifications c
using _vigia_classified n
where c.article_id = n.article_id and c.model_version = n.model_version;

insert into classifications by name
select * from _vigia_classified;
