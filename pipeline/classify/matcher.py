"""A phrase matcher over tokens: every lexicon (topics, places, anchors, contexts) is matched in one pass.

An entry's pattern is written as it reads in a newspaper, e.g. ``estado de emergencia``, ``extors*``
(a trailing ``*`` makes the last word a prefix), ``MS-13``. Two markers may precede it:

    ^   cased: every capitalised word of the pattern must be capitalised in the text, so "Comas"
        (the Lima district) matches and "comas" (commas) does not; an acronym must be in capitals
        ("PNP", not "PnP"). Place and anchor names (``places``) are cased whenever written capitalised;
    ?   framed: the name counts as a place only after a word that introduces one ("en", "distrito
        de") or in the title, since it is also a common word or a surname ("Ate", "Monzón").

Entries belong to a *family*. Within a family the leftmost-longest match wins and matches do not
overlap, so "Villa El Salvador" (a Lima district) hides "El Salvador" (a country) and "San Martín de
Porres" hides "San Martín"; across families they may overlap ("penal de Lurigancho" is a prison term
and a place).

Looking an entry up costs one dict access per token: the candidates of each distinct token are
computed once and cached, and news vocabulary repeats heavily.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.classify.text import Tokens, fold

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_MIN_PREFIX = 3  # shorter prefixes ("ex*") would match half the dictionary
_CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon entry: a pattern, what it is evidence of, and how much it weighs."""

    pattern: str  # as written, markers included
    family: str  # "topic", "geo" or "context": matches overlap only across families
    group: str  # e.g. "extortion", "peru", "foreign", "place", "disaster"
    weight: float = 1.0
    cased: bool = False
    framed: bool = False
    payload: tuple[str, ...] = ()  # ubigeo codes of a place, ISO code of a foreign country


@dataclass(frozen=True, slots=True)
class Match:
    entry: Entry
    start: int
    end: int
    weight: float  # entry weight times the zone weight of the matched text
    surface: str  # the matched words, folded and lower-cased: what evidence shows


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: Entry
    rest: tuple[tuple[str, bool], ...]  # remaining words: (text, is_prefix)
    capitals: tuple[int, ...]  # per word: NO_CAPITAL, CAPITAL or ALL_CAPITALS (see _capitals)
    length: int  # number of words


def parse_pattern(raw: str) -> tuple[str, bool, bool]:
    """Split the markers off a pattern: (pattern, cased, framed)."""
    cased = framed = False
    while raw[:1] in ("^", "?"):
        cased = cased or raw[0] == "^"
        framed = framed or raw[0] == "?"
        raw = raw[1:]
    return raw.strip(), cased, framed


NO_CAPITAL, CAPITAL, ALL_CAPITALS = 0, 1, 2


def _capitals(token: str) -> int:
    """What a cased entry asks of the text's word: an acronym ("PNP", "OIJ") all capitals, so that
    "PnP" or "Ves" is not it; a name ("Comas") a capital first letter; a small word ("de") nothing."""
    if len(token) >= 2 and token.isalpha() and token.isupper():
        return ALL_CAPITALS
    return CAPITAL if token[:1].isupper() else NO_CAPITAL


def _words(pattern: str) -> tuple[list[tuple[str, bool]], list[int]]:
    words: list[tuple[str, bool]] = []
    capitals: list[int] = []
    for piece in pattern.split():
        is_prefix = piece.endswith("*")
        tokens = _TOKEN.findall(fold(piece.rstrip("*")))
        for position, token in enumerate(tokens):
            words.append((token.lower(), is_prefix and position == len(tokens) - 1))
            capitals.append(_capitals(token))
    return words, capitals


@dataclass
class Matcher:
    """Compiled lexicons; ``find(tokens)`` returns every match of every family."""

    entries: Sequence[Entry]
    _exact: dict[str, list[_Compiled]] = field(default_factory=dict, init=False, repr=False)
    _prefix: dict[str, list[_Compiled]] = field(default_factory=dict, init=False, repr=False)
    _prefix_lengths: tuple[int, ...] = field(default=(), init=False, repr=False)
    _families: tuple[str, ...] = field(default=(), init=False, repr=False)
    _cache: dict[str, tuple[tuple[int, _Start], ...]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        families: list[str] = []
        for entry in self.entries:
            words, capitals = _words(entry.pattern)
            if not words:
                raise ValueError(f"empty lexicon pattern {entry.pattern!r}")
            first, is_prefix = words[0]
            if any(p and len(w) < _MIN_PREFIX for w, p in words):
                raise ValueError(f"prefix too short in lexicon pattern {entry.pattern!r}")
            compiled = _Compiled(entry, tuple(words[1:]), tuple(capitals) if entry.cased else (), len(words))
            index = self._prefix if is_prefix else self._exact
            index.setdefault(first, []).append(compiled)
            if entry.family not in families:
                families.append(entry.family)
        self._prefix_lengths = tuple(sorted({len(key) for key in self._prefix}))
        self._families = tuple(families)

    def _candidates(self, token: str) -> tuple[tuple[int, _Start], ...]:
        """Entries that may start at this token, by family."""
        found = list(self._exact.get(token, ()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            found.extend(self._prefix.get(token[:length], ()))
        if not found:
            return ()
        grouped = []
        for index, family in enumerate(self._families):
            members = sorted((c for c in found if c.entry.family == family), key=lambda c: -c.length)
            if members:
                grouped.append((index, _Start.of(members)))
        return tuple(grouped)

    def find(self, tokens: Tokens) -> list[Match]:
        lower, cased, weights = tokens.lower, tokens.cased, tokens.weights
        n = len(lower)
        free_from = [0] * len(self._families)  # per family: first position not inside a match
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        for token in set(lower).difference(cache):
            cache[token] = self._candidates(token)
        matches: list[Match] = []
        # Most words start no entry: find the positions that do in one comprehension, then work there.
        for i in [i for i, token in enumerate(lower) if cache[token]]:
            token = lower[i]
            following = lower[i + 1] if i + 1 < n else ""
            for family, start in cache[token]:
                if free_from[family] > i:
                    continue
                for candidate in start.candidates(following):
                    end = i + candidate.length
                    if end > n:
                        continue
                    if end > i + 2 and not _rest_matches(candidate, lower, i + 1):
                        continue
                    if candidate.capitals and not _capitals_match(candidate.capitals, cased, i):
                        continue
                    entry = candidate.entry
                    surface = token if end == i + 1 else " ".join(lower[i:end])
                    matches.append(Match(entry, i, end, entry.weight * weights[i], surface))
                    free_from[family] = end
                    break
        return matches


@dataclass(frozen=True, slots=True)
class _Start:
    """The entries of one family that may start at one word, arranged so that a position costs one
    dict lookup on the following word instead of a test per entry ("la", "san", "de" start hundreds
    of place names)."""

    by_second: dict[str, tuple[_Compiled, ...]]  # multi-word entries by their exact second word
    loose: tuple[_Compiled, ...]  # multi-word entries whose second word is a prefix ("narco terror*")
    single: tuple[_Compiled, ...]  # one-word entries

    @classmethod
    def of(cls, members: Sequence[_Compiled]) -> _Start:
        by_second: dict[str, list[_Compiled]] = {}
        loose, single = [], []
        for c in members:  # longest first, and kept so
            if not c.rest:
                single.append(c)
            elif c.rest[0][1]:
                loose.append(c)
            else:
                by_second.setdefault(c.rest[0][0], []).append(c)
        return cls({k: tuple(v) for k, v in by_second.items()}, tuple(loose), tuple(single))

    def candidates(self, following: str) -> Sequence[_Compiled]:
        """The entries whose second word fits ``following``, longest first, then the one-word ones."""
        multi: Sequence[_Compiled] = self.by_second.get(following, ())
        if self.loose:
            fitting = [c for c in self.loose if following.startswith(c.rest[0][0])]
            if fitting:
                multi = sorted([*multi, *fitting], key=lambda c: -c.length)
        if not multi:
            return self.single
        return (*multi, *self.single) if self.single else multi


def _rest_matches(candidate: _Compiled, lower: Sequence[str], start: int) -> bool:
    for offset, (word, is_prefix) in enumerate(candidate.rest):
        token = lower[start + offset]
        if token != word and not (is_prefix and token.startswith(word)):
            return False
    return True


def _capitals_match(capitals: Sequence[int], cased: Sequence[str], start: int) -> bool:
    for k, must in enumerate(capitals):
        word = cased[start + k]
        if must == ALL_CAPITALS and not word.isupper():
            return False
        if must == CAPITAL and not word[:1].isupper():
            return False
    return True


def split_patterns(block: str) -> list[str]:
    """The patterns of a block: separated by ';', a pattern may run over lines (comments after '#')."""
    joined = " ".join(line.split("#", 1)[0] for line in block.splitlines())
    return [" ".join(raw.split()) for raw in joined.split(";") if raw.strip()]


def entries_from(
    family: str, group: str, text: str, weight: float = 1.0, payload: Iterable[str] = ()
) -> list[Entry]:
    """Entries from a block of patterns (see ``split_patterns``)."""
    result = []
    payload = tuple(payload)
    for raw in split_patterns(text):
        pattern, cased, framed = parse_pattern(raw)
        result.append(Entry(pattern, family, group, weight, cased, framed, payload))
    return result
