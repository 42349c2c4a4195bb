-- replace_index: (re)write the story_index and story_bands rows of the articles in `_story_index_new`
-- and `_story_bands_new` (Arrow tables: their title keys and MinHash signatures, their LSH band keys).
delete from story_index where article_id in (select article_id from _story_index_new);
delete from story_bands where article_id in (select article_id from _story_index_new);
insert into story_index select * from _story_index_new;
insert into story_bands select * from _story_bands_new order by band;
