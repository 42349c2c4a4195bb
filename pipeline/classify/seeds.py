"""The seed corpus (``seeds/`` at the repository root) and similarity to it.

The seeds are five documents an analyst chose as plainly relevant. Besides being training examples,
they give every decision a reference point: the nearest seed and its TF-IDF cosine similarity, which
an analyst can open and compare with the article.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.errors import ConfigError


class Stemmed(Protocol):
    """What the seed index needs of an analysed document (``features.Analysis`` is one): its stems.
    A protocol, not an import, so that features (which reads the seeds) stays above this module."""

    @property
    def stems(self) -> Mapping[str, float]: ...


SEEDS_DIR = Path(__file__).resolve().parent.parent.parent / "seeds"
MANIFEST = "manifest.toml"


@dataclass(frozen=True, slots=True)
class Seed:
    file: str
    label: str
    language: str
    title: str
    outlet: str
    text: str


def load_seeds(directory: Path = SEEDS_DIR) -> list[Seed]:
    """The seeds listed in the manifest, in manifest order."""
    manifest = directory / MANIFEST
    try:
        listed = tomllib.loads(manifest.read_text(encoding="utf-8"))["seed"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"seed manifest {manifest} is missing or unreadable: {exc}") from exc
    seeds = []
    for item in listed:
        path = directory / item["file"]
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"seed {path} listed in {manifest} cannot be read: {exc}") from exc
        seeds.append(
            Seed(item["file"], item["label"], item["language"], item["title"], item.get("outlet", ""), text)
        )
    return seeds


def inverse_document_frequencies(documents: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Smoothed IDF of every stem in the documents (stem -> weight, as in ``Stemmed.stems``)."""
    counts: dict[str, int] = {}
    total = 0
    for stems in documents:
        total += 1
        for key in stems:
            counts[key] = counts.get(key, 0) + 1
    return {key: round(math.log((total + 1) / (count + 1)) + 1.0, 4) for key, count in counts.items()}


def unseen_idf(idf: Mapping[str, float]) -> float:
    """The IDF a stem no training document had: the largest one."""
    return max(idf.values(), default=1.0)


def tfidf(stems: Mapping[str, float], idf: Mapping[str, float], default_idf: float) -> dict[str, float]:
    vector = {key: math.log1p(count) * idf.get(key, default_idf) for key, count in stems.items()}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    if norm == 0.0:
        return {}
    return {key: v / norm for key, v in vector.items()}


class SeedIndex:
    """TF-IDF vectors of the seeds; ``nearest(analysis)`` gives the most similar seed."""

    def __init__(self, vectors: Mapping[str, Mapping[str, float]], idf: Mapping[str, float]) -> None:
        self.vectors = {name: dict(vector) for name, vector in vectors.items()}
        self.idf = dict(idf)
        self.default_idf = unseen_idf(self.idf)
        self.names = list(self.vectors)
        # stem -> ((seed index, weight), ...): one lookup per stem of the article, not one per seed.
        postings: dict[str, list[tuple[int, float]]] = {}
        for index, name in enumerate(self.names):
            for key, value in self.vectors[name].items():
                postings.setdefault(key, []).append((index, value))
        self.postings = {key: tuple(found) for key, found in postings.items()}

    @classmethod
    def build(cls, seeds: Mapping[str, Stemmed], idf: Mapping[str, float]) -> SeedIndex:
        default = unseen_idf(idf)
        vectors = {
            name: {k: round(v, 5) for k, v in tfidf(a.stems, idf, default).items()}
            for name, a in seeds.items()
        }
        return cls(vectors, idf)

    def nearest(self, analysis: Stemmed) -> tuple[str | None, float]:
        vector = tfidf(analysis.stems, self.idf, self.default_idf)
        totals = [0.0] * len(self.names)
        postings = self.postings
        for key, value in vector.items():
            for index, weight in postings.get(key, ()):
                totals[index] += value * weight
        best_name, best = None, 0.0
        for name, similarity in zip(self.names, totals, strict=True):
            if similarity > best:
                best_name, best = name, similarity
        return best_name, best
