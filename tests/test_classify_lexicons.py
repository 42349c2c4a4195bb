"""Lexicons of the classifier: the phrase matcher, the gazetteer, topics and anchors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.classify.features import analyze
from pipeline.classify.gazetteer import DEPARTMENTS, LIMA_METROPOLITANA
from pipeline.classify.language import identify, stemmer
from pipeline.classify.matcher import Entry, Matcher, entries_from, parse_pattern
from pipeline.classify.taxonomy import TOPIC_IDS
from pipeline.classify.text import fold, normalize, tokenize

REPO = Path(__file__).resolve().parent.parent


def places(title: str, text: str = "") -> dict[str, int]:
    return analyze(title, text).reading.units


def test_folding_removes_accents_and_keeps_apostrophes_apart():
    assert fold("Perú’s Ñaña Junín") == "Peru's Nana Junin"
    assert normalize("EXTORSIÓN") == "extorsion"
    assert tokenize("Peru’s", "").lower == ("peru", "s")


def test_zone_weights_favour_title_and_lead():
    tokens = tokenize("uno dos", " ".join(["w"] * 800))
    assert tokens.weights[0] > tokens.weights[2] > tokens.weights[300] > tokens.weights[-1]


def test_language_identification_and_stems():
    assert identify("", "La policía detuvo a los sospechosos en el distrito") == "es"
    assert identify("", "The police arrested the suspects in the district") == "en"
    assert identify("", "") == "es"  # nothing to tell: the feeds' majority
    assert stemmer("es")("extorsiones") == stemmer("es")("extorsión".replace("ó", "o"))
    assert stemmer("en")("killings") == "kill"


def test_markers_parse():
    assert parse_pattern("^?La Libertad") == ("La Libertad", True, True)  # cased, framed
    assert parse_pattern("extors*") == ("extors*", False, False)


def test_prefix_longest_match_and_families():
    entries = entries_from("a", "short", "crimen") + entries_from("a", "long", "crimen organizado")
    entries += entries_from("b", "other", "organiz*")
    found = Matcher(entries).find(tokenize("", "El crimen organizado avanza"))
    assert [(m.entry.group, m.surface) for m in found] == [
        ("long", "crimen organizado"),
        ("other", "organizado"),
    ]


def test_cased_entries_need_capitals():
    matcher = Matcher([Entry("Comas", "geo", "place", cased=True)])
    assert matcher.find(tokenize("", "Ataque en Comas"))
    assert not matcher.find(tokenize("", "separado por comas"))


def test_acronyms_need_all_capitals():
    matcher = Matcher([Entry("PNP", "geo", "place", cased=True)])
    assert matcher.find(tokenize("", "La PNP detuvo a dos"))
    assert not matcher.find(tokenize("", "A PnP network card"))


def test_too_short_prefix_is_refused():
    with pytest.raises(ValueError):
        Matcher(entries_from("a", "b", "ex*"))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Balacera en Trujillo", "13"),
        ("Estado de emergencia en Talara", "20"),
        ("Masacre en Pataz", "13"),
        ("Extorsión en Chiclayo", "14"),
        ("Ataque en San Juan de Lurigancho", LIMA_METROPOLITANA),
        ("Operativo en SJL y Comas", LIMA_METROPOLITANA),
        ("Robo en Ate Vitarte", LIMA_METROPOLITANA),
        ("Requisa en el penal de Ancón", LIMA_METROPOLITANA),
        ("Túnel en el penal de Lurigancho", LIMA_METROPOLITANA),
        ("Sicariato en el Callao", "07"),
        ("Huaral y Huacho", "15"),
        ("Narcotráfico en Pichari", "08"),
        ("Pozas de maceración en Llochegua", "05"),
        ("Juliaca y Puno", "21"),
        ("Minería ilegal en La Pampa, Madre de Dios", "17"),
    ],
)
def test_places_map_to_departments(text, code):
    assert code in places(text)


def test_vraem_implies_its_departments():
    assert {"03", "05", "08", "09", "12"} <= set(places("Operación en el VRAEM"))


def test_longer_names_hide_shorter_ones():
    found = analyze("Robo en Villa El Salvador y San Martín de Porres", "")
    assert set(found.reading.units) == {LIMA_METROPOLITANA}
    assert found.foreign == 0  # "El Salvador" inside a Lima district is not the country


def test_ambiguous_names_need_peru_context():
    assert "13" not in places(
        "Pandillas en La Libertad, El Salvador", "Bukele ordena operativo en San Salvador."
    )
    assert "13" in places("Extorsión en La Libertad", "La PNP reforzó el patrullaje en Trujillo.")


def test_lowercase_common_words_are_not_places():
    assert places("", "Se separan por comas y la libertad de prensa es un derecho.") == {}


def test_football_club_is_not_lima():
    assert places("Alianza Lima gana", "") == {}


def test_topics_are_the_agreed_ids():
    required = {
        "extortion",
        "homicide",
        "organized_crime",
        "prisons",
        "illegal_mining",
        "drug_trafficking",
        "state_of_emergency",
        "police_operations",
        "security_policy",
    }
    assert required <= set(TOPIC_IDS)
    assert all(re.fullmatch(r"[a-z_]+", t) for t in TOPIC_IDS)


def test_disaster_context_discounts_a_state_of_emergency():
    flood = analyze(
        "Declaran estado de emergencia por lluvias", "Huaicos e inundaciones por El Niño costero."
    )
    crime = analyze("Declaran estado de emergencia por extorsiones", "Sicariato y extorsión en Trujillo.")
    assert "state_of_emergency" not in flood.reported_topics()
    assert "state_of_emergency" in crime.reported_topics()


def test_departments_match_the_migration():
    sql = (REPO / "sql" / "migrations" / "002_classifier.sql").read_text(encoding="utf-8")
    rows = dict(re.findall(r"\('(\d+)', '([^']+)'\)", sql))
    assert rows == DEPARTMENTS
    assert len(rows) == 26


def reading(title: str, text: str = "", url: str | None = None):
    return analyze(title, text, None, url).reading


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Comerciantes de la avenida Abancay reclaman",
            "Las ventas cayeron por las obras en la avenida Abancay.",
        ),
        ("Concierto en la plaza San Martín", "Miles asistieron al concierto en la plaza San Martín."),
        ("Asesinan a Luis Monzón", "El comerciante Luis Monzón fue asesinado en su tienda."),
        ("Minera Ancash eleva su producción", "La empresa Minera Ancash reportó más cobre."),
        ("Cuenca: detienen a peruano con droga", "Un ciudadano peruano fue detenido en la terminal."),
    ],
)
def test_streets_companies_and_surnames_are_not_departments(title, text):
    r = reading(title, text)
    assert r.units == {} or set(r.units) == {LIMA_METROPOLITANA}, r.units
    assert "03" not in r.units and "22" not in r.units and "10" not in r.units and "02" not in r.units


def test_a_street_in_lima_is_lima_not_the_department_it_is_named_after():
    r = reading("Asaltan agencia bancaria en la avenida Abancay", "Ocurrió en el Cercado de Lima, cuadra 5.")
    assert set(r.units) == {LIMA_METROPOLITANA}
    assert r.primary == LIMA_METROPOLITANA and r.district == "150101"


def test_a_background_list_gives_no_departments():
    r = reading(
        "Asesinan a vigilantes de mina en Pataz",
        "El crimen ocurrió en el distrito de Parcoy. El gremio recordó que la violencia también afecta a "
        "regiones como Arequipa, Puno, Ayacucho y Madre de Dios.",
    )
    assert set(r.units) == {"13"}
    assert set(r.background) == {"04", "21", "05", "17"}
    assert (r.primary, r.province, r.district) == ("13", "1308", "130808")


def test_primary_department_is_the_place_of_the_event():
    r = reading(
        "Sicarios asesinan a mototaxista en Sullana",
        "El crimen ocurrió en Sullana. Los atacantes huyeron hacia Piura; la familia vive en Lima.",
    )
    assert r.primary == "20"
    assert r.province == "2006"
    dateline = reading("Balean local de transportes", "TRUJILLO. Un local fue atacado anoche en El Porvenir.")
    assert (dateline.primary, dateline.district) == ("13", "130102")


def test_a_region_lists_its_departments_but_names_no_primary_place():
    r = reading("Emboscada en el VRAEM", "Una patrulla fue atacada en el valle.")
    assert {"03", "05", "08", "09", "12"} <= set(r.units)
    assert r.primary is None


def test_a_persons_origin_is_not_a_place_of_the_story():
    r = reading("Asesinan a comerciante en Comas", "La víctima, natural de Cajamarca, vivía en Comas.")
    assert set(r.units) == {LIMA_METROPOLITANA}


@pytest.mark.parametrize(
    ("title", "text", "country"),
    [
        ("La Felcn incauta cocaína en Santa Cruz", "El decomiso se hizo en una hacienda.", "BO"),
        ("Extorsionadores atacan comercios en Quibdó", "La Gobernación pidió más tropas.", "CO"),
        ("Toman control de la cárcel de Tocorón", "Militares ingresaron al penal.", "VE"),
        ("OIJ reporta más homicidios", "El organismo pidió reformas.", "CR"),
        ("Masacre en Durán deja cinco muertos", "Los Chone Killers serían responsables.", "EC"),
        ("Police in Lima, Ohio investigate a shooting", "The Allen County prosecutor spoke.", "US"),
        ("Balacera en El Alto", "La Felcc investiga el ataque.", "BO"),
    ],
)
def test_crime_abroad_named_by_city_or_institution_is_foreign(title, text, country):
    r = reading(title, text)
    assert r.foreign_countries.get(country, 0) > 0, r
    assert r.peru_sure == 0, r.peru_terms


def test_shared_names_follow_the_rest_of_the_text():
    peru = reading("Balacera en Santa Cruz", "La PNP de Cajamarca investiga el ataque en la provincia.")
    bolivia = reading("Balacera en Santa Cruz", "La Felcc investiga el ataque en la ciudad boliviana.")
    assert peru.peru_sure > 0 and "06" in peru.units
    assert bolivia.peru_sure == 0 and bolivia.foreign_countries.get("BO", 0) > 0
    assert "13" in reading("Balacera en Trujillo").units  # the Peruvian city, unless the text says otherwise


def test_a_peruvian_outlet_is_evidence_of_peru():
    text = "El Consejo de Ministros aprobó decretos que endurecen las penas por extorsión."
    assert not analyze("Aprueban decretos contra la criminalidad", text).has_peru
    assert analyze(
        "Aprueban decretos contra la criminalidad", text, None, "https://rpp.pe/politica/x"
    ).has_peru
    assert analyze("", text, None, "https://www.infobae.com/america/peru/2025/x/").has_peru
    assert not analyze("", text, None, "https://example.com/peru-extortion").has_peru


def test_a_demonym_alone_is_no_evidence_of_peru():
    a = analyze("Condenan a peruano por robo", "Un ciudadano peruano fue condenado a cinco años.")
    assert a.reading.peru > 0 and not a.has_peru


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    [
        (
            "Atentado con explosivo en Trujillo",
            "Un artefacto explosivo destruyó la fachada; usaron dinamita.",
            "explosive_attack",
        ),
        (
            "Secuestran a empresario en Chiclayo",
            "Los captores pidieron rescate; lo mantuvieron en cautiverio.",
            "kidnapping",
        ),
        (
            "Exalcalde acusado de colusión",
            "La Fiscalía Anticorrupción lo acusa de colusión y cohecho.",
            "corruption",
        ),
    ],
)
def test_new_topics(title, text, topic):
    assert topic in analyze(title, text).reported_topics()


def test_one_passing_word_makes_no_topic():
    a = analyze(
        "Feria gastronómica en Arequipa", "Habrá platos típicos. El año pasado hubo un robo en la feria."
    )
    assert a.reported_topics() == ()


@pytest.mark.parametrize(
    "text",
    [
        "La inseguridad alimentaria afecta a familias de Puno.",
        "El plan de seguridad alimentaria llegará a escolares de Ayacucho.",
        "Las empresas invierten en ciberseguridad y en seguridad vial.",
        "El Congreso debate la reforma de la seguridad social.",
        "Ladrones de datos: un robot de limpieza y el sistema operativo.",
    ],
)
def test_other_senses_of_security_are_not_crime(text):
    assert analyze("", text).crime == 0, analyze("", text).topics


def test_corruption_is_kept_apart_from_crime():
    a = analyze(
        "Allanan municipalidad por sobornos", "Fiscales anticorrupción investigan cohecho y colusión."
    )
    assert a.corruption_case
    assert a.crime < a.corruption


def test_related_article_links_are_not_the_story():
    from pipeline.classify.text import strip_related

    text = "Exportaciones crecen.\nLEE TAMBIÉN\nAsesinan a comerciante en Trujillo\nSigue. Lee también: Balacera | Robo"
    assert strip_related(text) == "Exportaciones crecen.\n\nSigue. "
    a = analyze("Exportaciones de palta crecen", text)
    assert a.crime == 0 and a.reading.units == {}
