-- candidates: for each fresh article (`_story_fresh`: article_id and its place, seq, in the order fresh
-- articles are assigned), the earlier articles it may join: the same title key, or a shared LSH band
-- and an estimated similarity of at least $min_similarity, with event times at most $window seconds
-- apart. "Earlier": an article that has a story already, or a fresh one before it. One row a pair:
-- how it matched, the similarity, the seconds apart, and the candidate's story and its start.
with fresh as (
    select i.*, f.seq from story_index i join _story_fresh f using (article_id)
),

pool as (
    select i.*, f.seq from story_index i left join _story_fresh f using (article_id)
),

title_pairs as (
    select n.article_id, p.article_id as candidate, 'title' as how, null::double as similarity
    from fresh n join pool p on p.title_key = n.title_key
    where p.article_id <> n.article_id
      and abs(epoch(p.event_at) - epoch(n.event_at)) <= $window
      and (p.seq is null or p.seq < n.seq)
),

band_pairs as (
    select distinct n.article_id, p.article_id as candidate
    from story_bands n
    join _story_fresh f on f.article_id = n.article_id
    join story_bands p on p.band = n.band
    where p.article_id <> n.article_id
      and abs(epoch(p.event_at) - epoch(n.event_at)) <= $window
),

text_pairs as (
    select b.article_id, b.candidate, 'text' as how,
           len(list_filter(list_zip(n.minhash, p.minhash), x -> x[1] = x[2])) / $hashes as similarity
    from band_pairs b
    join fresh n on n.article_id = b.article_id
    join pool p on p.article_id = b.candidate
    where p.seq is null or p.seq < n.seq
),

pairs as (
    select * from title_pairs
    union all
    select * from text_pairs where similarity >= $min_similarity
),

final as (
    select x.article_id, x.candidate, x.how, x.similarity,
           abs(epoch(p.event_at) - epoch(n.event_at)) as seconds_apart, p.story_id, p.story_start
    from pairs x
    join fresh n on n.article_id = x.article_id
    join pool p on p.article_id = x.candidate
)

select * from final
