-- department_names: ubigeo → name of every department (and Lima Metropolitana, Callao).
select ubigeo, name
from departments
