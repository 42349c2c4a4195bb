"""Lexicons of the classifier: the phrase matcher, the gazetteer, topics and anchors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.classify.features import analyze
from pipeline.classify.gazetteer import DEPARTMENTS, LIMA_METROPOLITANA
from pipeline.classify.matcher import Entry, Matcher, entries_from, parse_pattern
from pipeline.classify.taxonomy import TOPIC_IDS
from pipeline.classify.text import fold, guess_language, normalize, tokenize

REPO = Path(__file__).resolve().parent.parent


def places(title: str, text: str = "") -> dict[str, int]:
    return analyze(title, text).places


def test_folding_removes_accents_and_keeps_apostrophes_apart():
    assert fold("Perú’s Ñaña Junín") == "Peru's Nana Junin"
    assert normalize("EXTORSIÓN") == "extorsion"
    assert tokenize("Peru’s", "").lower == ("peru", "s")


def test_zone_weights_favour_title_and_lead():
    tokens = tokenize("uno dos", " ".join(["w"] * 800))
    assert tokens.weights[0] > tokens.weights[2] > tokens.weights[300] > tokens.weights[-1]


def test_language_guess():
    assert guess_language(tokenize("", "La policía detuvo a los sospechosos en el distrito")) == "es"
    assert guess_language(tokenize("", "The police arrested the suspects in the district")) == "en"


def test_markers_parse():
    assert parse_pattern("^?La Libertad") == ("La Libertad", True, True)
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
    assert set(found.places) == {LIMA_METROPOLITANA}
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
