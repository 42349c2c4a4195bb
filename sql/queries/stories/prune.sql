-- prune: articles indexed before $cutoff are no longer compared.
delete from story_index where indexed_at < $cutoff;
delete from story_bands where indexed_at < $cutoff;
