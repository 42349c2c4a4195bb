-- staged_ids: every staged article, changed or not.
select article_id
from _change
