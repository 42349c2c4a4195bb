-- set_stems: the stems of `_search_stems` (term, stem) for words that had none.
update search_terms set stem = s.stem
from _search_stems s
where search_terms.term = s.term
