"""From a title and a text to the numbers the model weighs.

``analyze`` runs every lexicon over the tokens once and sums what it found: crime terms per topic,
Peru and foreign anchors, places, non-security contexts, and word stems. ``dense_features`` turns
that into a few dozen named, interpretable features; the stems are the sparse rest.

The features encode the reading an analyst does: *is this about crime or security* (topic terms and
their density), *is it about Peru* (the share of Peru anchors among all place anchors, and whether the
title names Peru or another country), and *is it really about something else* (floods behind a state
of emergency, copper output behind "mina", football behind "ataque"). Products such as
``crime_in_peru`` let a linear model express "crime AND Peru", which no sum of the two can.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Container
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.classify.anchors import anchor_entries
from pipeline.classify.contexts import CONTEXT_IDS, context_entries
from pipeline.classify.gazetteer import place_entries
from pipeline.classify.matcher import Matcher
from pipeline.classify.taxonomy import TOPIC_IDS, TOPIC_MIN_WEIGHT, topic_entries
from pipeline.classify.text import STOPWORDS, Tokens, guess_language, stem, tokenize

# Added to both sides of the Peru share so that a text with no anchors at all sits at 0.5, undecided.
SHARE_PRIOR = 0.5
# Anchors in the title, or right after "en"/"in", say where the story happens: they count this much
# more in the Peru share than anchors elsewhere.
WHERE_BONUS = 2.0
# A place right after one of these words is where something happened ("en Chile", "in Trujillo"),
# not just who was involved ("un ciudadano peruano", "Peruvian nationals").
LOCATIVES = frozenset({"en", "in"})


@lru_cache(maxsize=1)
def matcher() -> Matcher:
    return Matcher(topic_entries() + place_entries() + anchor_entries() + context_entries())


@dataclass(slots=True)
class Analysis:
    """What the lexicons found in one document, in weighted counts (title words count double)."""

    tokens: Tokens
    language: str
    length: float  # weighted number of tokens
    topics: dict[str, float]  # topic id (and "general") -> weight of its terms
    contexts: dict[str, float]  # context id -> weight of its terms
    peru: float  # weight of Peru anchors, places included
    foreign: float
    foreign_countries: dict[str, float]
    title_peru: bool
    title_foreign: bool
    where_peru: float  # anchors right after "en"/"in": where events happen
    where_foreign: float
    title_peru_weight: float
    title_foreign_weight: float
    places: dict[str, int]  # ubigeo -> mentions
    # evidence bucket ("topic:extortion", "peru", "foreign", "context:sports") -> surface -> weight
    terms: dict[str, dict[str, float]]
    stems: dict[str, float]  # stem -> weighted count
    stem_surface: dict[str, str] = field(default_factory=dict)  # stem -> first word seen with it

    @property
    def emergency(self) -> float:
        return self.topics.get("state_of_emergency", 0.0)

    @property
    def disaster_share(self) -> float:
        """How much the crime-free disaster vocabulary outweighs the other crime terms (0..1)."""
        disaster = self.contexts.get("disaster", 0.0)
        other_crime = sum(self.topics.values()) - self.emergency
        return disaster / (disaster + other_crime + 1.0)

    @property
    def crime(self) -> float:
        """Weight of all crime terms, a state of emergency discounted by how much disaster surrounds it."""
        return sum(self.topics.values()) - self.emergency * self.disaster_share

    @property
    def peru_share(self) -> float:
        """How much the text is about Peru rather than elsewhere (0..1; 0.5 when it names no place)."""
        here = self.peru + WHERE_BONUS * (self.where_peru + self.title_peru_weight) + SHARE_PRIOR
        there = self.foreign + WHERE_BONUS * (self.where_foreign + self.title_foreign_weight) + SHARE_PRIOR
        return here / (here + there)

    def reported_topics(self) -> tuple[str, ...]:
        """Topics whose terms weigh enough, heaviest first."""
        weights = dict(self.topics)
        weights["state_of_emergency"] = self.emergency * (1.0 - self.disaster_share)
        chosen = [t for t in TOPIC_IDS if weights.get(t, 0.0) >= TOPIC_MIN_WEIGHT]
        return tuple(sorted(chosen, key=lambda t: (-weights[t], TOPIC_IDS.index(t))))


def analyze(title: str, text: str, language: str | None = None) -> Analysis:
    tokens = tokenize(title, text)
    matches = matcher().find(tokens)
    n = len(tokens.lower)
    in_topic = bytearray(n)
    topics: dict[str, float] = defaultdict(float)
    contexts: dict[str, float] = defaultdict(float)
    terms: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    geo = []
    for match in matches:
        family = match.entry.family
        if family == "topic":
            topics[match.entry.group] += match.weight
            terms[f"topic:{match.entry.group}"][match.surface] += match.weight
            in_topic[match.start : match.end] = b"\x01" * (match.end - match.start)
        elif family == "geo":
            geo.append(match)
    for match in matches:
        # A context word inside a crime term ("mineria" in "mineria ilegal") is not that context.
        if match.entry.family == "context" and not any(in_topic[match.start : match.end]):
            contexts[match.entry.group] += match.weight
            terms[f"context:{match.entry.group}"][match.surface] += match.weight

    # Places that are also foreign names or common words count only once the text is about Peru.
    sure_peru = sum(m.weight for m in geo if m.entry.group in ("peru", "place") and not m.entry.needs_peru)
    foreign = sum(m.weight for m in geo if m.entry.group == "foreign")
    peru_context = sure_peru > 0 and sure_peru >= 0.5 * foreign
    peru = 0.0
    foreign_countries: dict[str, float] = defaultdict(float)
    places: dict[str, int] = defaultdict(int)
    title_peru = title_foreign = False
    where_peru = where_foreign = title_peru_weight = title_foreign_weight = 0.0
    lower = tokens.lower
    for match in geo:
        entry = match.entry
        locative = match.start > 0 and lower[match.start - 1] in LOCATIVES
        if entry.group == "foreign":
            foreign_countries[entry.payload[0]] += match.weight
            terms["foreign"][match.surface] += match.weight
            if match.start < tokens.title_length:
                title_foreign = True
                title_foreign_weight += match.weight
            where_foreign += match.weight if locative else 0.0
        elif entry.group in ("peru", "place") and (peru_context or not entry.needs_peru):
            peru += match.weight
            terms["peru"][match.surface] += match.weight
            if match.start < tokens.title_length:
                title_peru = True
                title_peru_weight += match.weight
            where_peru += match.weight if locative else 0.0
            if entry.group == "place":
                for code in entry.payload:
                    places[code] += 1

    stems, stem_surface = _stems(tokens)
    weights = tokens.weights

    return Analysis(
        tokens=tokens,
        language=language or guess_language(tokens),
        length=sum(weights),
        topics=dict(topics),
        contexts=dict(contexts),
        peru=peru,
        foreign=foreign,
        foreign_countries=dict(foreign_countries),
        title_peru=title_peru,
        title_foreign=title_foreign,
        where_peru=where_peru,
        where_foreign=where_foreign,
        title_peru_weight=title_peru_weight,
        title_foreign_weight=title_foreign_weight,
        places=dict(places),
        terms={bucket: dict(found) for bucket, found in terms.items()},
        stems=stems,
        stem_surface=stem_surface,
    )


def _stem_key(token: str) -> str:
    """The vocabulary stem of a word, or "" for words that carry no meaning of their own."""
    if len(token) < 3 or token in STOPWORDS or token.isdigit():
        return ""
    return stem(token)


def _stems(tokens: Tokens) -> tuple[dict[str, float], dict[str, str]]:
    """Stem -> weighted count, and stem -> the first word seen with it (for evidence).

    Counted per zone with Counter (in C), since every zone has one weight: the Python loop then
    runs over distinct words, not over every word.
    """
    lower, weights = tokens.lower, tokens.weights
    stems: dict[str, float] = defaultdict(float)
    stem_surface: dict[str, str] = {}
    start = 0
    while start < len(lower):
        weight = weights[start]
        end = start
        while end < len(lower) and weights[end] == weight:
            end += 1
        for token, count in Counter(lower[start:end]).items():
            key = _STEM_KEYS.get(token)
            if key is None:
                key = _STEM_KEYS[token] = _stem_key(token)
            if key:
                stems[key] += count * weight
                stem_surface.setdefault(key, token)
        start = end
    if len(_STEM_KEYS) > 200_000:
        _STEM_KEYS.clear()
    return dict(stems), stem_surface


_STEM_KEYS: dict[str, str] = {}


# Dense feature -> evidence buckets its contribution is shared among (see Model.explain).
#
# Crime features are multiplied by the Peru share: crime *here* and crime *abroad* are different
# features, so a cartel war in Sinaloa brings little of the weight a gang war in Trujillo brings.
CRIME_BUCKETS = tuple(f"topic:{t}" for t in (*TOPIC_IDS, "general"))
DENSE_FEATURES: dict[str, tuple[str, ...]] = {
    "crime_here": (*CRIME_BUCKETS, "peru"),
    "crime_density_here": (*CRIME_BUCKETS, "peru"),
    "crime_abroad": (*CRIME_BUCKETS, "foreign"),
    **{f"topic_here:{t}": (f"topic:{t}", "peru") for t in TOPIC_IDS},
    "peru_share": ("peru",),
    "peru": ("peru",),
    "foreign": ("foreign",),
    "no_peru": (),
    "title_peru": ("peru",),
    "title_foreign": ("foreign",),
    "where_peru": ("peru",),
    "where_foreign": ("foreign",),
    "foreign_dominant": ("foreign",),
    **{f"context:{c}": (f"context:{c}",) for c in CONTEXT_IDS},
    "offtopic_share": tuple(f"context:{c}" for c in CONTEXT_IDS),
    "emergency_disaster": ("topic:state_of_emergency", "context:disaster"),
    "seed_similarity": (),
}


def dense_features(a: Analysis, seed_similarity: float) -> dict[str, float]:
    crime = a.crime
    log_crime = math.log1p(crime)
    share = a.peru_share
    offtopic = sum(a.contexts.values())
    return {
        "crime_here": log_crime * share,
        # Per 100 words; the 60 added to the length keeps a one-line text from looking dense.
        "crime_density_here": math.log1p(100.0 * crime / (a.length + 60.0)) * share,
        "crime_abroad": log_crime * (1.0 - share),
        **{f"topic_here:{t}": math.log1p(a.topics.get(t, 0.0)) * share for t in TOPIC_IDS},
        "peru_share": share,
        "peru": math.log1p(a.peru),
        "foreign": math.log1p(a.foreign),
        "no_peru": 1.0 if a.peru == 0 else 0.0,
        "title_peru": 1.0 if a.title_peru else 0.0,
        "title_foreign": 1.0 if a.title_foreign else 0.0,
        "where_peru": math.log1p(a.where_peru),
        "where_foreign": math.log1p(a.where_foreign),
        "foreign_dominant": 1.0 if a.foreign >= 2.0 and a.foreign > 2.0 * a.peru else 0.0,
        **{f"context:{c}": math.log1p(a.contexts.get(c, 0.0)) for c in CONTEXT_IDS},
        "offtopic_share": offtopic / (offtopic + crime + 1.0),
        "emergency_disaster": math.log1p(a.emergency) * a.disaster_share,
        "seed_similarity": seed_similarity,
    }


def stem_features(a: Analysis, vocabulary: Container[str]) -> dict[str, float]:
    """Sparse features: log counts of the stems in the vocabulary, scaled to unit length."""
    values = {s: math.log1p(c) for s, c in a.stems.items() if s in vocabulary}
    norm = math.sqrt(sum(v * v for v in values.values()))
    if norm == 0.0:
        return {}
    return {s: v / norm for s, v in values.items()}
