-- 009_search_language: search an analyst can use (pipeline/search.py).
--   * every indexed word keeps its Snowball stem (Spanish, or English for words seen only in
--     English articles), computed by PyStemmer when the word first enters the index, so that
--     `extorsionadores` finds `extorsión` and `attacks` finds `attacked`;
--   * the query language: "phrases", AND / OR / NOT (or -word), prefixes (extors*);
--   * filters by date, relevance, topic, department and outlet, inside the macro so that a
--     filtered search still returns its best `max_results`.
-- Words used to be indexed under a light plural-folding stemmer; the index is emptied and every
-- article queued to be indexed again under the new rules, a chunk per cycle (search.BACKLOG_CHUNK).

alter table search_terms add column stem varchar;  -- null until the load that added the word stems it

delete from search_postings;
delete from search_postings_recent;
delete from search_docs;
delete from search_terms;
delete from search_backlog;
insert into search_backlog select article_id from articles;

-- The words of a text as the index holds them: lower case, accents stripped (extorsión = EXTORSION),
-- split on anything not a letter or digit, stop words dropped. No stemming here: stems are looked up
-- in search_terms.stem, so the index keeps the words themselves (phrases and prefixes need them).
create or replace macro search_words(s) as
    list_filter(
        regexp_split_to_array(strip_accents(lower(coalesce(s, ''))), '[^a-z0-9]+'),
        t -> length(t) > 1 and not list_contains(
            ['al', 'ante', 'con', 'de', 'del', 'el', 'en', 'entre', 'es', 'esta', 'este', 'fue',
             'ha', 'han', 'la', 'las', 'le', 'les', 'lo', 'los', 'mas', 'no', 'para', 'pero', 'por',
             'que', 'se', 'sin', 'sobre', 'su', 'sus', 'tras', 'un', 'una', 'uno', 'ya',
             'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'has', 'in', 'is', 'it',
             'its', 'of', 'on', 'or', 'that', 'the', 'to', 'was', 'were', 'with'], t));

-- A phrase as a regular expression over a text normalised like the index's (lower case, accents
-- stripped): its words, stop words included, in order, separated by anything not a letter or digit.
-- The words are [a-z0-9]+ only, so nothing of the query reaches the expression as syntax.
create or replace macro search_phrase_pattern(phrase) as
    '(^|[^a-z0-9])'
    || array_to_string(
        list_filter(regexp_split_to_array(strip_accents(lower(coalesce(phrase, ''))), '[^a-z0-9]+'), w -> w <> ''),
        '[^a-z0-9]+')
    || '($|[^a-z0-9])';

-- The query's tokens: "a phrase" (its closing quote may be missing), -"a phrase", or any run of
-- characters without spaces or quotes.
create or replace macro search_query_tokens(query) as
    regexp_extract_all(coalesce(query, ''), '-?"[^"]*"?|[^\s"]+');

-- A query parsed into atoms: one struct per word, prefix or phrase, with the number of the OR
-- alternative it belongs to (AND binds tighter than OR, as everywhere) and whether it is negated
-- (NOT word, -word). Parentheses are understood by `python -m pipeline search` only, which
-- passes its own atoms (with Snowball stems of words no article contains yet) as JSON.
create or replace macro search_parse(query) as
    list_filter(
        list_transform(search_query_tokens(query), (tok, i) -> {
            'clause': len(list_filter(search_query_tokens(query)[1:i], t -> t = 'OR'))::integer,
            'negated': starts_with(tok, '-') or coalesce(search_query_tokens(query)[i - 1] = 'NOT', false),
            'kind': case
                when starts_with(ltrim(tok, '-'), '"') then 'phrase'
                when suffix(tok, '*') then 'prefix'
                else 'word'
            end,
            'text': strip_accents(lower(trim(ltrim(tok, '-'), '"*'))),
            'stems': []::varchar[],
            'operator': tok in ('AND', 'OR', 'NOT')
        }),
        a -> not a.operator and a.text <> '');

-- search(query, ...): the articles that match the query, best first (BM25, k1 = 1.2, b = 0.75,
-- over title and text; a word in the title counts twice).
--   select * from search('extorsión transportistas');            -- both words (or their forms)
--   select * from search('"tren de aragua" OR extors*', max_results := 50);
--   select * from search('sicariato -fútbol', since := '2026-11-01', department := 'La Libertad');
--   select outlet, count(*) from search('trujillo', max_results := null) group by outlet;
-- Query: words are all required (AND may be written); OR between alternatives; NOT word or -word
-- excludes; "a phrase" matches those words in that order (accents and case ignored, no stemming);
-- word* matches every word that starts so (at least 3 letters). A word matches its Snowball
-- family: extorsionadores finds extorsión, extorsiones, extorsionador.
-- Filters (null or '': none): since, until (Peru days of the event time, inclusive), relevant (true:
-- only what the current model finds relevant; false: only the rest), topic (a topic id),
-- department (ubigeo or name, accents ignored), outlet (site or feed name).
-- Columns: rank, score, terms_matched, article_id, story_id, event_at, day, outlet, feed, title,
-- url, relevant, topics, departments (ubigeo codes).
-- (Filters default to '' rather than null: DuckLake keeps a macro's defaults as text, and reads a
-- typed null back as the string 'NULL'.)
create or replace macro search(
    query, max_results := 20, since := '', until := '', relevant := '', topic := '', department := '',
    outlet := '', atoms := ''
) as table
with parsed as (
    select unnest(
        coalesce(
            from_json(
                nullif(atoms::varchar, ''),
                '[{"clause": "INTEGER", "negated": "BOOLEAN", "kind": "VARCHAR", "text": "VARCHAR",
                   "stems": ["VARCHAR"]}]'
            ),
            list_transform(
                search_parse(query),
                a -> {'clause': a.clause, 'negated': a.negated, 'kind': a.kind, 'text': a.text, 'stems': a.stems}
            )
        ),
        recursive := true
    )
),

query_atoms as (
    select
        row_number() over () as atom,
        clause,
        negated,
        -- a "word" written with punctuation inside (san-juan) is the phrase of its parts
        case when kind = 'word' and len(search_words(text)) > 1 then 'phrase' else kind end as kind,
        text,
        search_words(text) as words,
        coalesce(stems, []) as stems
    from parsed
),

atoms as (
    -- an atom of stop words only (de, the) asks for nothing and is dropped
    select * from query_atoms
    where (kind = 'prefix' and length(regexp_replace(text, '[^a-z0-9]', '', 'g')) >= 3) or len(words) > 0
),

word_atoms as (
    select atom, words[1] as word, stems from atoms where kind = 'word'
),

known_stems as (
    -- the stems of the query's words that the index holds, their families; a word no article
    -- contains is looked up by its singular or plural as well (operaciones → operacion)
    select w.atom, t.stem
    from word_atoms w
    join search_terms t on t.term in (
        w.word, regexp_replace(w.word, 's$', ''), regexp_replace(w.word, 'es$', ''), w.word || 's', w.word || 'es'
    )
    where t.stem is not null
    union
    select atom, unnest(stems) as stem from word_atoms
),

atom_terms as (
    select w.atom, t.term_id, t.term
    from word_atoms w
    join search_terms t on t.term = w.word
    union
    select k.atom, t.term_id, t.term
    from known_stems k
    join search_terms t on t.stem = k.stem
    union
    select a.atom, t.term_id, t.term
    from atoms a
    join search_terms t on starts_with(t.term, regexp_replace(a.text, '[^a-z0-9]', '', 'g'))
    where a.kind = 'prefix'
    union
    select a.atom, t.term_id, t.term
    from (select atom, unnest(words) as word from atoms where kind = 'phrase') a
    join search_terms t on t.term = a.word
),

postings as (
    select term_id, doc, tf, length from search_postings
    where term_id in (select term_id from atom_terms)
    union all
    select term_id, doc, tf, length from search_postings_recent
    where term_id in (select term_id from atom_terms)
),

phrase_candidates as (
    -- documents holding every word of the phrase; the phrase itself is checked on their text
    select a.atom, p.doc
    from atoms a
    join atom_terms t using (atom)
    join postings p using (term_id)
    where a.kind = 'phrase'
    group by a.atom, p.doc
    having count(distinct t.term) = any_value(len(list_distinct(a.words)))
),

phrase_docs as (
    select c.atom, c.doc
    from phrase_candidates c
    join atoms a using (atom)
    join search_docs d using (doc)
    join articles ar using (article_id)
    where regexp_matches(
        strip_accents(lower(concat_ws(' ', ar.title, coalesce(ar.text, ar.summary)))),
        search_phrase_pattern(a.text)
    )
),

atom_docs as (
    select distinct t.atom, p.doc
    from atom_terms t
    join atoms a using (atom)
    join postings p using (term_id)
    where a.kind <> 'phrase'
    union all
    select atom, doc from phrase_docs
),

required as (
    select clause, count(*) as atoms from atoms where not negated group by clause
),

clause_hits as (
    select a.clause, d.doc, count(distinct a.atom) as atoms
    from atom_docs d
    join atoms a using (atom)
    where not a.negated
    group by a.clause, d.doc
),

excluded as (
    select a.clause, d.doc
    from atom_docs d
    join atoms a using (atom)
    where a.negated
),

matched as (
    select distinct h.doc
    from clause_hits h
    join required r on r.clause = h.clause and r.atoms = h.atoms
    where not exists (select 1 from excluded x where x.clause = h.clause and x.doc = h.doc)
),

wanted_departments as (
    select list(ubigeo) as codes
    from departments
    where ubigeo = nullif(department::varchar, '')
       or strip_accents(lower(name)) = strip_accents(lower(nullif(department::varchar, '')))
),

candidates as (
    select
        m.doc,
        d.article_id,
        coalesce(s.story_id, a.article_id) as story_id,
        coalesce(a.published_at, a.first_seen_at) as event_at,
        timezone('America/Lima', coalesce(a.published_at, a.first_seen_at))::date as day,
        coalesce(s.outlet, a.feed) as outlet,
        a.feed,
        a.title,
        a.url,
        r.article_id is not null as relevant,
        r.topics,
        r.departments
    from matched m
    join search_docs d using (doc)
    join articles a using (article_id)
    left join article_stories s using (article_id)
    left join trend_articles r using (article_id)
),

filtered as (
    select c.*
    from candidates c
    where (nullif(since::varchar, '') is null or c.day >= since::varchar::date)
      and (nullif(until::varchar, '') is null or c.day <= until::varchar::date)
      and (nullif(relevant::varchar, '') is null or c.relevant = relevant::varchar::boolean)
      and (nullif(topic::varchar, '') is null or list_contains(c.topics, topic::varchar))
      and (nullif(department::varchar, '') is null
           or list_has_any(c.departments, (select codes from wanted_departments)))
      and (nullif(outlet::varchar, '') is null
           or c.outlet = lower(outlet::varchar)
           or c.feed = outlet::varchar
           or starts_with(c.outlet, lower(outlet::varchar) || '.'))
),

positive_terms as (
    select distinct t.term_id
    from atom_terms t
    join atoms a using (atom)
    where not a.negated
),

collection as (
    select count(*) as docs, avg(length) as avg_length from search_docs
),

document_frequency as (
    select term_id, count(*) as df from postings where term_id in (select term_id from positive_terms)
    group by term_id
),

scored as (
    select
        p.doc,
        sum(
            ln(1 + (c.docs - f.df + 0.5) / (f.df + 0.5))
            * p.tf * (1.2 + 1) / (p.tf + 1.2 * (1 - 0.75 + 0.75 * p.length / c.avg_length))
        ) as score,
        count(*) as terms_matched
    from postings p
    join document_frequency f using (term_id)
    cross join collection c
    where p.doc in (select doc from filtered)
    group by p.doc
),

final as (
    select
        row_number() over (order by s.score desc, f.article_id) as rank,
        round(s.score, 3) as score,
        s.terms_matched,
        f.article_id,
        f.story_id,
        f.event_at,
        f.day,
        f.outlet,
        f.feed,
        f.title,
        f.url,
        f.relevant,
        f.topics,
        f.departments
    from filtered f
    join scored s using (doc)
)

select * from final
order by rank
limit max_results;
