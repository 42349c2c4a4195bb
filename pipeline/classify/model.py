"""The relevance model: a transparent logistic regression over lexicon features and word stems.

A ``Model`` is its ``params`` (a JSON-able dict: weights, threshold, seed vectors) and nothing else,
so the base model built from the repository and every retrained version stored in the ``models``
table score the same way. Its version is derived from the params: the same params always give the
same version, and any change to them gives a new one.

    score = sigmoid(bias + Σ dense weight × dense feature + Σ stem weight × stem feature)
    is_relevant = score >= threshold

Evidence lists the words whose weighted features pushed the score most (a dense feature's push is
shared among the words that produced it), the nearest seed, and the rules that fired.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.classify import lexicon
from pipeline.classify.features import (
    DENSE_FEATURES,
    Analysis,
    analyze,
    dense_features,
    stem_features,
)
from pipeline.classify.gazetteer import DEPARTMENTS
from pipeline.classify.seeds import SeedIndex
from pipeline.errors import ModelError
from pipeline.records import Classification, Evidence, Place

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

PARAMS_FORMAT = 2  # 2: places settled by gazetteers, Snowball stems, corruption apart

# The documented decision threshold. The model is a logistic regression fitted with both classes
# weighted equally, so 0.5 is where it finds relevant and not relevant equally likely; the
# cross-validated scores on the project's own examples (see training.cross_validate and the README)
# show precision and recall both stay high over a wide band around it, so no tuning to one data set
# went into it.
MODEL_THRESHOLD = 0.5

EVIDENCE_TERMS = 8
# The highest score a text without evidence of Peru can have: below the threshold, whatever else it says.
NO_PERU_CAP = 0.2


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def params_digest(params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:12]


def make_version(prefix: str, params: Mapping[str, Any]) -> str:
    """``<prefix>-<hash of params>``: "base-3f9a..." for the shipped model, "r3-..." for retrains."""
    return f"{prefix}-{params_digest(params)}"


@dataclass(frozen=True, slots=True)
class Scored:
    """A score with what produced it, before it becomes a Classification."""

    analysis: Analysis
    score: float
    dense: dict[str, float]
    sparse: dict[str, float]
    nearest_seed: str | None
    seed_similarity: float


class Model:
    """A relevance model; build it with ``load_model`` or ``Model(params, version)``."""

    def __init__(self, params: Mapping[str, Any], version: str) -> None:
        if params.get("format") != PARAMS_FORMAT:
            raise ModelError(f"model params format {params.get('format')!r} is not {PARAMS_FORMAT}")
        try:
            self.bias = float(params["bias"])
            self.dense_weights = {k: float(v) for k, v in params["dense"].items()}
            self.stem_weights = {k: float(v) for k, v in params["stems"].items()}
            self.threshold = float(params.get("threshold", MODEL_THRESHOLD))
            self.seeds = SeedIndex(params["seed_vectors"], params["idf"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model params are incomplete: {exc}") from exc
        unknown = set(self.dense_weights) - set(DENSE_FEATURES)
        if unknown:
            log.warning("model %s has weights for features this code lacks: %s", version, sorted(unknown))
        self.params = dict(params)
        self.version = version

    def __getstate__(self) -> dict[str, Any]:
        # Pickled for the extraction workers: with it goes where this process keeps the places
        # lexicon, so that a worker reads it (0.2 s) instead of building it (a second).
        return {**self.__dict__, "_lexicon_cache": lexicon.cache_dir()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        lexicon_cache = state.pop("_lexicon_cache", None)
        self.__dict__.update(state)
        if lexicon_cache is not None and lexicon.cache_dir() is None:
            lexicon.use_cache(lexicon_cache)

    def __repr__(self) -> str:
        return f"Model({self.version!r}, threshold={self.threshold})"

    def score(self, title: str, text: str, language: str | None = None, url: str | None = None) -> Scored:
        """``url``: where the article was published; a Peruvian outlet is evidence of Peru."""
        analysis = analyze(title, text, language, url)
        nearest, similarity = self.seeds.nearest(analysis)
        dense = dense_features(analysis, similarity)
        sparse = stem_features(analysis, self.stem_weights)
        z = self.bias
        for name, value in dense.items():
            z += self.dense_weights.get(name, 0.0) * value
        for key, value in sparse.items():
            z += self.stem_weights[key] * value
        score = sigmoid(z)
        if not analysis.has_peru:
            # Relevant means Peru: without evidence of it, no crime vocabulary makes a text relevant.
            score = min(score, NO_PERU_CAP)
        return Scored(analysis, score, dense, sparse, nearest, similarity)

    def classify(
        self, title: str, text: str, language: str | None = None, url: str | None = None
    ) -> Classification:
        scored = self.score(title or "", text or "", language, url)
        a = scored.analysis
        r = a.reading
        # The primary department first, then the others by mentions.
        places = tuple(
            Place(code, DEPARTMENTS[code], mentions)
            for code, mentions in sorted(
                r.units.items(), key=lambda item: (item[0] != r.primary, -item[1], item[0])
            )
        )
        evidence = Evidence(
            terms=self.explain(scored),
            nearest_seed=scored.nearest_seed,
            seed_similarity=round(scored.seed_similarity, 4),
            notes=notes(a),
        )
        return Classification(
            score=round(scored.score, 4),
            is_relevant=scored.score >= self.threshold,
            model_version=self.version,
            topics=a.reported_topics(),
            places=places,
            evidence=evidence,
            primary_department=r.primary,
            province=r.province,
            district=r.district,
        )

    def classify_many(self, items: Iterable[Sequence[str | None]]) -> list[Classification]:
        """Items: (title, text, language) or (title, text, language, url)."""
        return [self.classify(*item) for item in items]  # type: ignore[arg-type]

    def explain(self, scored: Scored) -> tuple[tuple[str, float], ...]:
        """The words that pushed the score most, each with its push on the log-odds, strongest first."""
        a = scored.analysis
        pushes: dict[str, float] = defaultdict(float)
        for name, value in scored.dense.items():
            contribution = self.dense_weights.get(name, 0.0) * value
            buckets = [a.terms[b] for b in DENSE_FEATURES.get(name, ()) if b in a.terms]
            total = sum(sum(found.values()) for found in buckets)
            if contribution == 0.0 or total == 0.0:
                continue
            for found in buckets:
                for surface, weight in found.items():
                    pushes[surface] += contribution * weight / total
        for key, value in scored.sparse.items():
            pushes[a.stem_surface.get(key, key)] += self.stem_weights[key] * value
        ranked = heapq.nsmallest(EVIDENCE_TERMS, pushes.items(), key=lambda item: (-abs(item[1]), item[0]))
        return tuple((term, round(push, 3)) for term, push in ranked if abs(push) >= 0.01)


def notes(a: Analysis) -> tuple[str, ...]:
    """The rules an analyst would cite, in words."""
    found = []
    r = a.reading
    if not a.has_peru:
        found.append(
            "no evidence of Peru (place, institution, official or outlet): not relevant"
            + (" (a demonym alone says who, not where)" if r.peru > 0 else "")
        )
    if a.crime >= 1.0 and r.foreign > r.peru:
        countries = sorted(r.foreign_countries, key=lambda c: -r.foreign_countries[c])[:3]
        found.append(f"crime abroad: {', '.join(countries)} outweigh Peru anchors")
    if a.corruption_case:
        found.append("corruption case: reported as a topic, not by itself citizen security")
    if a.emergency > 0 and a.disaster_share >= 0.5:
        found.append("state of emergency in a disaster context (rains, floods, El Niño...)")
    offtopic = {c: w for c, w in a.contexts.items() if c != "disaster" and w >= 2.0 and w > a.crime}
    if offtopic:
        found.append("non-security context: " + ", ".join(sorted(offtopic, key=lambda c: -offtopic[c])))
    if a.crime < 1.0:
        found.append("few crime or security terms")
    if r.skipped:
        found.append("not taken as places: " + ", ".join(sorted(set(r.skipped))[:5]))
    if r.background:
        found.append("background list, not the event's place: " + ", ".join(r.background))
    return tuple(found)
