"""Precision, recall and F1 of relevant vs not relevant, per language, with ambiguous items apart.

Items labelled ``ambiguous`` (judgement calls: protest deaths, corruption trials, migration control)
are never counted in precision or recall; they are reported on their own: how many, and how many the
model called relevant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.classify.model import Model
from pipeline.classify.training import Document
from pipeline.errors import ConfigError

LABELS = ("relevant", "not_relevant", "ambiguous")


@dataclass(frozen=True, slots=True)
class Metrics:
    """Confusion counts of relevant (positive) vs not relevant, and what follows from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    ambiguous: int = 0
    ambiguous_relevant: int = 0  # ambiguous items the model called relevant

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def as_dict(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def metrics(labels: Sequence[str], predicted: Sequence[bool]) -> Metrics:
    tp = fp = fn = tn = ambiguous = ambiguous_relevant = 0
    for label, relevant in zip(labels, predicted, strict=True):
        if label == "ambiguous":
            ambiguous += 1
            ambiguous_relevant += relevant
        elif label == "relevant":
            tp += relevant
            fn += not relevant
        else:
            fp += relevant
            tn += not relevant
    return Metrics(tp, fp, fn, tn, ambiguous, ambiguous_relevant)


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics overall and per language, plus the items the model got wrong (for reading, not tuning)."""

    threshold: float
    overall: Metrics
    by_language: dict[str, Metrics]
    errors: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "overall": self.overall.as_dict(),
            "by_language": {lang: m.as_dict() for lang, m in sorted(self.by_language.items())},
            "errors": self.errors,
        }

    def as_text(self) -> str:
        lines = [
            f"threshold {self.threshold:.2f}",
            "scope      n   P      R      F1     tp  fp  fn  tn  ambiguous",
        ]
        rows = [("overall", self.overall), *sorted(self.by_language.items())]
        for name, m in rows:
            lines.append(
                f"{name:<8} {m.support:>4}  {m.precision:.3f}  {m.recall:.3f}  {m.f1:.3f}  "
                f"{m.tp:>3} {m.fp:>3} {m.fn:>3} {m.tn:>3}  "
                f"{m.ambiguous} ({m.ambiguous_relevant} scored relevant)"
            )
        for error in self.errors:
            lines.append(f"  {error['kind']}: {error['id']} score={error['score']:.3f} {error['title']}")
        return "\n".join(lines)


def report(documents: Sequence[Document], scores: Sequence[float], threshold: float) -> Report:
    predicted = [s >= threshold for s in scores]
    labels = [d.label for d in documents]
    languages = sorted({d.language or "?" for d in documents})
    by_language = {
        lang: metrics(
            [d.label for d in documents if (d.language or "?") == lang],
            [p for d, p in zip(documents, predicted, strict=True) if (d.language or "?") == lang],
        )
        for lang in languages
    }
    errors: list[dict[str, object]] = [
        {
            "kind": "false positive" if d.label == "not_relevant" else "false negative",
            "id": d.id,
            "language": d.language,
            "score": round(s, 4),
            "title": d.title[:100],
        }
        for d, s, p in zip(documents, scores, predicted, strict=True)
        if d.label != "ambiguous" and p != (d.label == "relevant")
    ]
    return Report(threshold, metrics(labels, predicted), by_language, errors)


def read_labelled(path: Path | str) -> list[Document]:
    """Labelled JSON lines (``label``, ``title``, ``text``, optional ``id`` and ``language``)."""
    documents = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled JSON object: {exc}") from exc
            if label not in LABELS:
                raise ConfigError(f"{path}:{number}: label {label!r} is not one of {', '.join(LABELS)}")
            documents.append(
                Document(
                    id=str(row.get("id", number)),
                    label=label,
                    title=row.get("title") or "",
                    text=row.get("text") or "",
                    language=row.get("language"),
                    source="evaluation",
                )
            )
    return documents


def evaluate(model: Model, documents: Iterable[Document], threshold: float | None = None) -> Report:
    """Score documents with a model and report; the language is guessed when a line has none."""
    docs = list(documents)
    scored = [model.score(d.title, d.text, d.language) for d in docs]
    docs = [
        d
        if d.language
        else Document(d.id, d.label, d.title, d.text, s.analysis.language, d.source, d.category)
        for d, s in zip(docs, scored, strict=True)
    ]
    return report(docs, [s.score for s in scored], model.threshold if threshold is None else threshold)
