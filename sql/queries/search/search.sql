-- search: the best articles for a query through the `search` macro (migration 009), with the query
-- parsed in Python ($atoms: parentheses, stems of words no article holds yet) and the analyst's
-- filters; see the macro for the columns.
select *
from search(
    $query, max_results := $limit, since := $since, until := $until, relevant := $relevant,
    topic := $topic, department := $department, outlet := $outlet, atoms := $atoms
)
