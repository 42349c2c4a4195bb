-- 002_classifier: the rows of `departments` (INEI ubigeo codes) that classifications.departments refers to.
-- Lima Metropolitana (province of Lima, 1501) is its own unit; 15 is the rest of the Lima region.
-- Keep in step with pipeline/classify/gazetteer.py (a test checks they agree).
insert into departments (ubigeo, name) values
    ('01', 'Amazonas'),
    ('02', 'Áncash'),
    ('03', 'Apurímac'),
    ('04', 'Arequipa'),
    ('05', 'Ayacucho'),
    ('06', 'Cajamarca'),
    ('07', 'Callao'),
    ('08', 'Cusco'),
    ('09', 'Huancavelica'),
    ('10', 'Huánuco'),
    ('11', 'Ica'),
    ('12', 'Junín'),
    ('13', 'La Libertad'),
    ('14', 'Lambayeque'),
    ('15', 'Lima Provincias'),
    ('1501', 'Lima Metropolitana'),
    ('16', 'Loreto'),
    ('17', 'Madre de Dios'),
    ('18', 'Moquegua'),
    ('19', 'Pasco'),
    ('20', 'Piura'),
    ('21', 'Puno'),
    ('22', 'San Martín'),
    ('23', 'Tacna'),
    ('24', 'Tumbes'),
    ('25', 'Ucayali')
on conflict do nothing;
