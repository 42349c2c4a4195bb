-- label: an analyst's label of an article (the last label of an article wins).
insert into labels (article_id, label, labelled_by, note)
values ($article_id, $label, $labelled_by, $note)
