-- tables: the tables and views an analyst session sees (the shell's `.tables`).
select table_name, table_type
from information_schema.tables
where table_schema = 'main'
order by table_type, table_name;
