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
from collections import defaultdict
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
        return (self.peru + SHARE_PRIOR) / (self.peru + self.foreign + 2 * SHARE_PRIOR)

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
    for match in geo:
        entry = match.entry
        if entry.group == "foreign":
            foreign_countries[entry.payload[0]] += match.weight
            terms["foreign"][match.surface] += match.weight
            title_foreign = title_foreign or match.start < tokens.title_length
        elif entry.group in ("peru", "place") and (peru_context or not entry.needs_peru):
            peru += match.weight
            terms["peru"][match.surface] += match.weight
            title_peru = title_peru or match.start < tokens.title_length
            if entry.group == "place":
                for code in entry.payload:
                    places[code] += 1

    stems: dict[str, float] = defaultdict(float)
    stem_surface: dict[str, str] = {}
    weights = tokens.weights
    for i, token in enumerate(tokens.lower):
        if len(token) < 3 or token in STOPWORDS or token.isdigit():
            continue
        key = stem(token)
        stems[key] += weights[i]
        if key not in stem_surface:
            stem_surface[key] = token

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
        places=dict(places),
        terms={bucket: dict(found) for bucket, found in terms.items()},
        stems=dict(stems),
        stem_surface=stem_surface,
    )


# Dense feature -> evidence buckets its contribution is shared among (see Model.explain).
CRIME_BUCKETS = tuple(f"topic:{t}" for t in (*TOPIC_IDS, "general"))
DENSE_FEATURES: dict[str, tuple[str, ...]] = {
    "crime": CRIME_BUCKETS,
    "crime_density": CRIME_BUCKETS,
    **{f"topic:{t}": (f"topic:{t}",) for t in TOPIC_IDS},
    "peru": ("peru",),
    "foreign": ("foreign",),
    "peru_share": ("peru", "foreign"),
    "no_peru": (),
    "title_peru": ("peru",),
    "title_foreign": ("foreign",),
    "crime_in_peru": (*CRIME_BUCKETS, "peru"),
    "crime_abroad": (*CRIME_BUCKETS, "foreign"),
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
    features = {
        "crime": log_crime,
        "crime_density": math.log1p(100.0 * crime / (a.length + 30.0)),
        **{f"topic:{t}": math.log1p(a.topics.get(t, 0.0)) for t in TOPIC_IDS},
        "peru": math.log1p(a.peru),
        "foreign": math.log1p(a.foreign),
        "peru_share": share,
        "no_peru": 1.0 if a.peru == 0 else 0.0,
        "title_peru": 1.0 if a.title_peru else 0.0,
        "title_foreign": 1.0 if a.title_foreign and not a.title_peru else 0.0,
        "crime_in_peru": log_crime * share,
        "crime_abroad": log_crime * (1.0 - share),
        "foreign_dominant": 1.0 if a.foreign >= 2.0 and a.foreign > 2.0 * a.peru else 0.0,
        **{f"context:{c}": math.log1p(a.contexts.get(c, 0.0)) for c in CONTEXT_IDS},
        "offtopic_share": offtopic / (offtopic + crime + 1.0),
        "emergency_disaster": math.log1p(a.emergency) * a.disaster_share,
        "seed_similarity": seed_similarity,
    }
    return features


def stem_features(a: Analysis, vocabulary: dict[str, float] | set[str]) -> dict[str, float]:
    """Sparse features: log counts of the stems in the vocabulary, scaled to unit length."""
    values = {s: math.log1p(c) for s, c in a.stems.items() if s in vocabulary}
    norm = math.sqrt(sum(v * v for v in values.values()))
    if norm == 0.0:
        return {}
    return {s: v / norm for s, v in values.items()}
