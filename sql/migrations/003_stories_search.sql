-- 003_stories_search: what the analysts' views stand on.
--   * stories: one story_id for the articles that report the same incident (pipeline/stories.py);
--   * the full-text search index, kept up to date incrementally (pipeline/search.py), and the
--     search() table macro that ranks articles by BM25 over it;
--   * backlogs: articles loaded before this migration, indexed a chunk per cycle.
-- Both derived structures are written only inside a cycle's load transaction (load._after_load),
-- so the analyst copy always shows them in step with the articles.

-- One row per article: the story it belongs to. Written once when the article is first loaded;
-- the story of an article never changes (story_id is stable), only its event_at follows updates.
create table if not exists article_stories (
    article_id      varchar primary key,
    story_id        varchar not null,     -- the article_id of the story's first article
    event_at        timestamptz not null, -- coalesce(published_at, first_seen_at)
    outlet          varchar not null,     -- site of the article's URL (else its feed's), else the feed name
    matched_by      varchar not null,     -- first | title | text: why it joined its story
    matched_article varchar,              -- the earlier article it was matched with
    similarity      double,               -- estimated Jaccard similarity of the texts (matched_by = text)
    assigned_at     timestamptz not null
);

-- The recent window new articles are compared with (pruned to the last 14 days of loads):
-- normalised titles and MinHash signatures, and the signatures' LSH band keys.
create table if not exists story_index (
    article_id  varchar not null,
    story_id    varchar,                  -- null only while its own load is assigning it
    story_start timestamptz,              -- event time of the story's first article
    event_at    timestamptz not null,
    title_key   varchar,                  -- null when the title is too short to identify a story
    minhash     uinteger[],               -- null when the text is too short to compare
    indexed_at  timestamptz not null
);

create table if not exists story_bands (
    band       ubigint not null,
    article_id varchar not null,
    event_at   timestamptz not null,
    indexed_at timestamptz not null
);

-- Trend facts: the current model's relevant articles with their story, Peru day and outlet, and the
-- same flattened to one row per topic and per department. Trend views aggregate these instead of
-- re-deciding a million articles' current classification, story and day on every query (seconds
-- on a 2-core machine). Each load refreshes the rows of every story it touched and of every article
-- classified since the last refresh (so `reclassify` is caught up by the next load at the latest);
-- a change in `models` rebuilds them all. See pipeline/stories.py, refresh_trends.
create table if not exists trend_articles (
    article_id    varchar not null,
    story_id      varchar not null,
    event_at      timestamptz not null,
    day           date not null,            -- event_at's date in Peru (America/Lima)
    feed          varchar not null,
    outlet        varchar not null,
    title         varchar,
    url           varchar,
    model_version varchar not null,
    score         double not null,
    topics        varchar[],
    departments   varchar[]
);

-- story_first marks the one row per (story, topic) that counts the story: its earliest article;
-- outlet_first the one row per (day, topic, outlet) that counts the outlet. Counting flags is
-- what makes the daily views fast: a count(distinct) over half a million rows is not.
create table if not exists trend_topics (
    day          date not null,
    topic        varchar not null,
    story_id     varchar not null,
    article_id   varchar not null,
    outlet       varchar not null,
    story_first  boolean not null,
    outlet_first boolean not null
);

create table if not exists trend_departments (
    day          date not null,
    ubigeo       varchar not null,
    story_id     varchar not null,
    article_id   varchar not null,
    outlet       varchar not null,
    story_first  boolean not null,
    outlet_first boolean not null
);

-- One row per story with at least one relevant article (the `stories` view).
create table if not exists trend_stories (
    story_id       varchar not null,
    title          varchar,                   -- of its earliest relevant article
    first_event_at timestamptz not null,
    last_event_at  timestamptz not null,
    day            date not null,             -- first_event_at's date in Peru
    articles       integer not null,
    outlets        integer not null,
    outlet_names   varchar[],
    topics         varchar[],
    departments    varchar[]
);

create table if not exists trend_state (
    refreshed_at     timestamptz not null,
    classified_upto  timestamptz,             -- the newest classified_at the facts include
    models_signature varchar not null         -- `models` as it was: a change rebuilds every fact
);

-- The search index. Terms get dense integer ids; postings arrive in search_postings_recent and
-- are moved, sorted by term, into search_postings in runs of a few million rows, so that a
-- query reads only the row groups holding its terms (DuckDB's zone maps skip the others).
-- A posting carries its document's length, so ranking needs no join; an updated article's
-- postings are deleted and it is indexed again under a new doc number.
create table if not exists search_terms (
    term    varchar not null,
    term_id integer not null
);

create table if not exists search_docs (
    doc        integer not null,
    article_id varchar not null,
    length     integer not null,          -- tokens indexed (the title counts twice)
    indexed_at timestamptz not null
);

-- The last doc number given: numbers are never reused.
create table if not exists search_state (
    last_doc integer not null
);

create table if not exists search_postings (
    term_id integer not null,
    doc     integer not null,
    tf      integer not null,              -- times the term occurs in the doc
    length  integer not null               -- the doc's length
);

create table if not exists search_postings_recent (
    term_id integer not null,
    doc     integer not null,
    tf      integer not null,
    length  integer not null
);

-- Articles stored before this migration: assigned to stories and indexed a chunk per cycle.
create table if not exists story_backlog (article_id varchar not null);
create table if not exists search_backlog (article_id varchar not null);

insert into story_backlog
select article_id from articles a
where not exists (select 1 from article_stories s where s.article_id = a.article_id);

insert into search_backlog
select article_id from articles a
where not exists (select 1 from search_docs d where d.article_id = a.article_id);

-- Search tokens: lower case, accents stripped (extorsión = Extorsion), split on anything not a
-- letter or digit, stop words dropped, plurals folded by a light Spanish/English stemmer
-- (extorsiones -> extorsion, transportistas -> transportista, veces -> vez, attacks -> attack).
-- The index and the queries use these same macros, so they always agree.
create or replace macro search_stem(t) as
    case
        when length(t) < 5 then t
        when suffix(t, 'iones') then left(t, length(t) - 2)
        when suffix(t, 'ces') then left(t, length(t) - 3) || 'z'
        when suffix(t, 'es') and t[-3] in ('l', 'n', 'r', 'd', 'j') then left(t, length(t) - 2)
        when suffix(t, 's') and t[-2] not in ('s', 'i', 'u') then left(t, length(t) - 1)
        else t
    end;

create or replace macro search_tokens(s) as
    list_transform(
        list_filter(
            regexp_split_to_array(strip_accents(lower(coalesce(s, ''))), '[^a-z0-9]+'),
            t -> length(t) > 1 and not list_contains(
                ['al', 'ante', 'con', 'de', 'del', 'el', 'en', 'entre', 'es', 'esta', 'este', 'fue',
                 'ha', 'han', 'la', 'las', 'le', 'les', 'lo', 'los', 'mas', 'no', 'para', 'pero', 'por',
                 'que', 'se', 'sin', 'sobre', 'su', 'sus', 'tras', 'un', 'una', 'uno', 'ya',
                 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'has', 'in', 'is', 'it',
                 'its', 'of', 'on', 'or', 'that', 'the', 'to', 'was', 'were', 'with'], t)),
        t -> search_stem(t));

-- search('extorsión transportistas'): articles ranked by BM25 (k1 = 1.2, b = 0.75) over title and
-- text; an article matching any of the words is returned, those matching more and rarer words first.
--   select * from search('extorsión transportistas');
--   select * from search('sicariato', max_results := 10);
create or replace macro search(query, max_results := 20) as table
with query_terms as (
    select distinct unnest(search_tokens(query)) as term
),

terms as (
    select t.term_id
    from search_terms t
    join query_terms q using (term)
),

postings as (
    select term_id, doc, tf, length from search_postings where term_id in (select term_id from terms)
    union all
    select term_id, doc, tf, length from search_postings_recent where term_id in (select term_id from terms)
),

collection as (
    select count(*) as docs, avg(length) as avg_length from search_docs
),

document_frequency as (
    select term_id, count(*) as df from postings group by term_id
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
    group by p.doc
),

best as (
    select s.*, d.article_id
    from (select * from scored order by score desc, doc limit max_results) s
    join search_docs d using (doc)
),

final as (
    select
        row_number() over (order by b.score desc, b.article_id) as rank,
        round(b.score, 3) as score,
        b.terms_matched,
        a.article_id,
        coalesce(s.story_id, a.article_id) as story_id,
        coalesce(a.published_at, a.first_seen_at) as event_at,
        a.feed,
        a.title,
        a.url
    from best b
    join articles a using (article_id)
    left join article_stories s using (article_id)
)

select * from final order by rank;
