"""From a title and a text to the numbers the model weighs.

``analyze`` runs every lexicon over the tokens once and sums what it found: crime terms per topic,
the places and anchors settled by ``places.resolve`` (how much the text is about Peru, how much about
elsewhere, and where in Peru), non-security contexts, and word stems. ``dense_features`` turns that
into a few dozen named, interpretable features; the stems are the sparse rest.

The features encode the reading an analyst does: *is this about crime or security* (topic terms and
their density), *is it about Peru* (the share of Peru's evidence among all places and anchors, and
whether the title or the dateline names Peru or another country), and *is it really about something
else* (floods behind a state of emergency, copper output behind "mina", software behind "attack", a
corruption trial behind "fiscalía"). Products such as ``crime_here`` let a linear model express "crime
AND Peru", which no sum of the two can.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Container
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.classify.anchors import peru_outlet
from pipeline.classify.contexts import CONTEXT_IDS, context_entries
from pipeline.classify.language import identify, stemmer
from pipeline.classify.lexicon import lexicon
from pipeline.classify.matcher import Matcher
from pipeline.classify.places import Reading, resolve
from pipeline.classify.taxonomy import CRIME_TOPICS, TOPIC_IDS, TOPIC_MIN_WEIGHT, sense_entries, topic_entries
from pipeline.classify.text import STOPWORDS, Tokens, tokenize

# Added to both sides of the Peru share so that a text with no anchors at all sits at 0.5, undecided.
SHARE_PRIOR = 0.5
# Anchors in the title, the dateline or right after "en"/"in" say where the story happens: they
# count this much more in the Peru share than anchors elsewhere.
WHERE_BONUS = 2.0
# The least evidence of Peru (places, institutions, officials, outlets; demonyms do not count) a text
# needs to be relevant at all: one sure mention in the body.
PERU_EVIDENCE_MIN = 1.0


@lru_cache(maxsize=1)
def matcher() -> Matcher:
    return Matcher(topic_entries() + sense_entries() + list(lexicon().entries) + context_entries())


@dataclass(slots=True)
class Analysis:
    """What the lexicons found in one document, in weighted counts (title words count double)."""

    tokens: Tokens
    language: str
    length: float  # weighted number of tokens
    topics: dict[str, float]  # topic id (and "general") -> weight of its terms
    contexts: dict[str, float]  # context id -> weight of its terms
    reading: Reading  # places and anchors, settled
    # evidence bucket ("topic:extortion", "peru", "foreign", "context:sports") -> surface -> weight
    terms: dict[str, dict[str, float]]
    stems: dict[str, float]  # stem -> weighted count
    stem_surface: dict[str, str] = field(default_factory=dict)  # stem -> first word seen with it

    @property
    def peru(self) -> float:
        return self.reading.peru

    @property
    def foreign(self) -> float:
        return self.reading.foreign

    @property
    def has_peru(self) -> bool:
        """Does the text give evidence of Peru beyond a demonym? Without it, it cannot be relevant."""
        return self.reading.peru_sure >= PERU_EVIDENCE_MIN

    @property
    def emergency(self) -> float:
        return self.topics.get("state_of_emergency", 0.0)

    @property
    def corruption(self) -> float:
        return self.topics.get("corruption", 0.0)

    @property
    def corruption_case(self) -> bool:
        """Is the text a corruption case rather than a crime story? Corruption terms at least as heavy
        as every crime term besides the police's and the policy's (raids, arrests and prosecutors come
        with corruption cases too)."""
        substantive = sum(
            w
            for t, w in self.topics.items()
            if t not in ("corruption", "police_operations", "security_policy")
        )
        return self.corruption >= 2.0 and self.corruption >= substantive

    @property
    def disaster_share(self) -> float:
        """How much the crime-free disaster vocabulary outweighs the other crime terms (0..1)."""
        disaster = self.contexts.get("disaster", 0.0)
        other_crime = self._crime_terms() - self.emergency
        return disaster / (disaster + other_crime + 1.0)

    def _crime_terms(self) -> float:
        return sum(w for t, w in self.topics.items() if t != "corruption")

    @property
    def crime(self) -> float:
        """Weight of all crime terms (corruption apart), a state of emergency discounted by how much
        disaster surrounds it."""
        return self._crime_terms() - self.emergency * self.disaster_share

    @property
    def peru_share(self) -> float:
        """How much the text is about Peru rather than elsewhere (0..1; 0.5 when it names no place)."""
        r = self.reading
        here = r.peru + WHERE_BONUS * (r.where_peru + r.title_peru) + SHARE_PRIOR
        there = r.foreign + WHERE_BONUS * (r.where_foreign + r.title_foreign) + SHARE_PRIOR
        return here / (here + there)

    def reported_topics(self) -> tuple[str, ...]:
        """Topics whose terms weigh enough, heaviest first."""
        weights = dict(self.topics)
        weights["state_of_emergency"] = self.emergency * (1.0 - self.disaster_share)
        chosen = [t for t in TOPIC_IDS if weights.get(t, 0.0) >= TOPIC_MIN_WEIGHT]
        return tuple(sorted(chosen, key=lambda t: (-weights[t], TOPIC_IDS.index(t))))


# Evidence of Peru a Peruvian outlet gives (``anchors.peru_outlet``): enough for the relevance rule,
# but it says nothing of where the story happens, so it adds little to the Peru share.
OUTLET_SURE, OUTLET_SHARE = 1.0, 0.5


def analyze(title: str, text: str, language: str | None = None, url: str | None = None) -> Analysis:
    tokens = tokenize(title, text)
    matches = matcher().find(tokens)
    n = len(tokens.lower)
    in_topic = bytearray(n)
    topics: dict[str, float] = defaultdict(float)
    contexts: dict[str, float] = defaultdict(float)
    terms: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    geo = []
    other_sense = bytearray(n)  # tokens inside a phrase where a crime word means something else
    for match in matches:
        if match.entry.family == "sense":
            other_sense[match.start : match.end] = b"\x01" * (match.end - match.start)
    for match in matches:
        family = match.entry.family
        if family == "topic":
            in_topic[match.start : match.end] = b"\x01" * (match.end - match.start)
            if any(other_sense[match.start : match.end]):
                continue
            topics[match.entry.group] += match.weight
            terms[f"topic:{match.entry.group}"][match.surface] += match.weight
        elif family == "geo":
            geo.append(match)
    for match in matches:
        # A context word inside a crime term ("mineria" in "mineria ilegal") is not that context.
        if match.entry.family == "context" and not any(in_topic[match.start : match.end]):
            contexts[match.entry.group] += match.weight
            terms[f"context:{match.entry.group}"][match.surface] += match.weight

    reading = resolve(tokens, geo)
    outlet = peru_outlet(url)
    if outlet is not None:
        reading.outlet = outlet
        reading.peru_sure += OUTLET_SURE
        reading.peru += OUTLET_SHARE
        reading.peru_terms[outlet] = OUTLET_SHARE
    if reading.peru_terms:
        terms["peru"] = dict(reading.peru_terms)
    if reading.foreign_terms:
        terms["foreign"] = dict(reading.foreign_terms)
    language = language or identify(title, text)
    stems, stem_surface = _stems(tokens, language)
    return Analysis(
        tokens=tokens,
        language=language,
        length=sum(tokens.weights),
        topics=dict(topics),
        contexts=dict(contexts),
        reading=reading,
        terms={bucket: dict(found) for bucket, found in terms.items()},
        stems=stems,
        stem_surface=stem_surface,
    )


_STEM_KEYS: dict[str, dict[str, str]] = {}  # language -> word -> stem ("" for none)


def _stem_key(token: str, language: str) -> str:
    """The vocabulary stem of a word, or "" for words that carry no meaning of their own."""
    if len(token) < 3 or token in STOPWORDS or token.isdigit():
        return ""
    return stemmer(language)(token)


def _stems(tokens: Tokens, language: str) -> tuple[dict[str, float], dict[str, str]]:
    """Stem -> weighted count, and stem -> the first word seen with it (for evidence).

    Counted per zone with Counter (in C), since every zone has one weight: the Python loop then
    runs over distinct words, not over every word.
    """
    lower, weights = tokens.lower, tokens.weights
    stems: dict[str, float] = defaultdict(float)
    stem_surface: dict[str, str] = {}
    keys = _STEM_KEYS.setdefault(language, {})
    start = 0
    while start < len(lower):
        weight = weights[start]
        end = start
        while end < len(lower) and weights[end] == weight:
            end += 1
        for token, count in Counter(lower[start:end]).items():
            key = keys.get(token)
            if key is None:
                key = keys[token] = _stem_key(token, language)
            if key:
                stems[key] += count * weight
                stem_surface.setdefault(key, token)
        start = end
    if len(keys) > 200_000:
        keys.clear()
    return dict(stems), stem_surface


# Dense feature -> evidence buckets its contribution is shared among (see Model.explain).
#
# Crime features are multiplied by the Peru share: crime *here* and crime *abroad* are different
# features, so a cartel war in Sinaloa brings little of the weight a gang war in Trujillo brings.
CRIME_BUCKETS = tuple(f"topic:{t}" for t in (*CRIME_TOPICS, "general"))
DENSE_FEATURES: dict[str, tuple[str, ...]] = {
    "crime_here": (*CRIME_BUCKETS, "peru"),
    "crime_density_here": (*CRIME_BUCKETS, "peru"),
    "crime_abroad": (*CRIME_BUCKETS, "foreign"),
    **{f"topic_here:{t}": (f"topic:{t}", "peru") for t in CRIME_TOPICS},
    "corruption": ("topic:corruption",),
    "corruption_share": ("topic:corruption",),
    "corruption_case": ("topic:corruption",),
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
    r = a.reading
    return {
        "crime_here": log_crime * share,
        # Per 100 words; the 60 added to the length keeps a one-line text from looking dense.
        "crime_density_here": math.log1p(100.0 * crime / (a.length + 60.0)) * share,
        "crime_abroad": log_crime * (1.0 - share),
        **{f"topic_here:{t}": math.log1p(a.topics.get(t, 0.0)) * share for t in CRIME_TOPICS},
        "corruption": math.log1p(a.corruption),
        "corruption_share": a.corruption / (a.corruption + crime + 1.0),
        "corruption_case": math.log1p(a.corruption) if a.corruption_case else 0.0,
        "peru_share": share,
        "peru": math.log1p(r.peru),
        "foreign": math.log1p(r.foreign),
        "no_peru": 0.0 if a.has_peru else 1.0,
        "title_peru": 1.0 if r.title_peru > 0 else 0.0,
        "title_foreign": 1.0 if r.title_foreign > 0 else 0.0,
        "where_peru": math.log1p(r.where_peru),
        "where_foreign": math.log1p(r.where_foreign),
        "foreign_dominant": 1.0 if r.foreign >= 2.0 and r.foreign > 2.0 * r.peru else 0.0,
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
