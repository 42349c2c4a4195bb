-- precomputed: `_ready` holds the classifications made in the extraction workers (`_precomputed`) that
-- the load can keep: of the articles of `_classify_ids`, made for the content now stored (same content
-- hash) by the load's model version ($version), dated $now.
create or replace temp table _ready as select * from classifications where false;

insert into _ready
select p.article_id, p.model_version, p.score, p.is_relevant, p.topics, p.departments, p.evidence,
       $now::timestamptz, p.primary_department, p.province, p.district
from _precomputed p
join _classify_ids i using (article_id)
join articles a using (article_id)
where p.content_hash = a.content_hash and p.model_version = $version
qualify row_number() over (partition by p.article_id) = 1;
