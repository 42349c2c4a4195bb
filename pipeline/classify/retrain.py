"""Analysts teach the model: a new version from seeds, written examples and their labels.

``retrain(con)`` builds the new version, measures it against the current one, and stores it in
``models`` (unless asked only to compare). The comparison is on two sets:

* the project's own labelled set (seeds + written examples): both versions were trained on it, so
  this shows whether the labels pulled the model away from what the project already knew;
* the labelled articles: the current version's scores as they are, the new version's by
  cross-validation (each article scored by a model trained without it), so the new version is not
  judged on articles it has learnt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.classify import versions as registry
from pipeline.classify.evaluation import Metrics, Report, report
from pipeline.classify.model import Model, make_version
from pipeline.classify.training import Document, build_params, cross_validate, project_documents
from pipeline.classify.versions import base_model

log = logging.getLogger(__name__)

MAX_FOLDS = 5


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    current: Metrics
    new: Metrics
    how: str  # how the new version's figures were obtained

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current.as_dict(), "new": self.new.as_dict(), "how": self.how}


@dataclass(frozen=True, slots=True)
class RetrainResult:
    new_version: str
    parent_version: str
    labels: dict[str, int]
    comparisons: list[Comparison] = field(default_factory=list)
    stored: bool = False

    def metrics(self) -> dict[str, Any]:
        return {"labels": self.labels, **{c.name: c.as_dict() for c in self.comparisons}}

    def as_text(self) -> str:
        lines = [
            f"new version {self.new_version} (parent {self.parent_version})"
            + ("" if self.stored else " - not stored (--dry-run)"),
            "labels used: " + ", ".join(f"{k} {v}" for k, v in self.labels.items()),
            f"{'set':<28} {'version':<8} {'n':>4}  {'P':>6} {'R':>6} {'F1':>6}",
        ]
        for c in self.comparisons:
            for which, m in (("current", c.current), ("new", c.new)):
                lines.append(
                    f"{c.name:<28} {which:<8} {m.support:>4}  {m.precision:6.3f} {m.recall:6.3f} {m.f1:6.3f}"
                )
            lines.append(f"  ({c.how})")
        return "\n".join(lines)


def _scores(model: Model, documents: list[Document]) -> list[float]:
    return [model.score(d.title, d.text, d.language, d.url).score for d in documents]


def _metrics(documents: list[Document], scores: list[float], threshold: float) -> Metrics:
    result: Report = report(documents, scores, threshold)
    return result.overall


def retrain(
    con: duckdb.DuckDBPyConnection, dry_run: bool = False, cache_dir: Path | None = None
) -> RetrainResult:
    """``cache_dir``: where the base model's params are kept between processes (see ``base_model``)."""
    current = registry.newest_model_from(con) or base_model(cache_dir)
    labelled = registry.labelled_documents(con)
    usable = [d for d in labelled if d.label != "ambiguous"]
    project = project_documents()
    counts = {
        label: sum(1 for d in labelled if d.label == label)
        for label in ("relevant", "not_relevant", "ambiguous")
    }

    params = build_params(
        project + usable,
        notes={"parent_version": current.version, "analyst_labels": counts},
    )
    version = make_version(f"r{registry.count_models(con) + 1}", params)
    new = Model(params, version)

    comparisons = [
        Comparison(
            "project set",
            _metrics(project, _scores(current, project), current.threshold),
            _metrics(project, _scores(new, project), new.threshold),
            "both versions trained on it",
        )
    ]
    if len(usable) >= 2:
        folds = min(MAX_FOLDS, len(usable))
        comparisons.append(
            Comparison(
                "labelled articles",
                _metrics(usable, _scores(current, usable), current.threshold),
                _metrics(usable, cross_validate(usable, extra=project, k=folds), new.threshold),
                f"new version: {folds}-fold cross-validation over the labelled articles",
            )
        )
    result = RetrainResult(version, current.version, counts, comparisons, stored=not dry_run)
    if not dry_run:
        registry.save_model(
            con,
            new,
            parent_version=current.version,
            metrics=result.metrics(),
            notes=f"retrained on {len(project)} project documents and {len(usable)} analyst labels",
            created_at=datetime.now(UTC),
        )
        log.info("stored model %s", version)
    return result
