-- old_docs: the docs of the articles matching {wanted} already indexed (an updated article's old text).
select doc
from search_docs
where {wanted}
