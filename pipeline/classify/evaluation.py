"""How good the model is: relevance per language, the open world, and places.

* **Relevance**: precision, recall and F1 of relevant vs not relevant, per language. Items labelled
  ``ambiguous`` (judgement calls: protest deaths, corruption trials, migration control) are never
  counted in precision or recall; they are reported on their own.
* **Open world**: general news that is not about Peruvian security (sports, technology, science,
  crime abroad, "security" in other senses), where every item scored relevant is a false alarm. Items
  of category ``open_world`` in a labelled file, and every feed entry and page of a corpus directory
  (``open_world_items``), are reported as the share scored relevant.
* **Places**, on the items whose line carries ``departments`` (and ``primary_department``): how often
  the primary department is exactly the labelled one (null included), and the precision and recall
  of the department list.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.classify.model import Model, Scored
from pipeline.classify.training import Document, places_of
from pipeline.errors import ConfigError, ContentError

LABELS = ("relevant", "not_relevant", "ambiguous")
OPEN_WORLD = "open_world"


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
class OpenWorld:
    """How many general-news items were scored relevant."""

    items: int = 0
    relevant: int = 0
    examples: tuple[str, ...] = ()  # titles of some of them, for reading

    @property
    def rate(self) -> float:
        return self.relevant / self.items if self.items else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "items": self.items,
            "relevant": self.relevant,
            "rate": round(self.rate, 5),
            "examples": list(self.examples),
        }


@dataclass(frozen=True, slots=True)
class PlaceMetrics:
    """Departments against labelled ones: primary exact match, and the list's precision and recall."""

    items: int = 0
    primary_right: int = 0
    listed: int = 0  # departments the model listed
    listed_right: int = 0  # of those, labelled ones
    labelled: int = 0  # labelled departments

    @property
    def primary_accuracy(self) -> float:
        return self.primary_right / self.items if self.items else 1.0

    @property
    def precision(self) -> float:
        return self.listed_right / self.listed if self.listed else 1.0

    @property
    def recall(self) -> float:
        return self.listed_right / self.labelled if self.labelled else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "primary_accuracy": round(self.primary_accuracy, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics overall and per language, plus the items the model got wrong (for reading, not tuning)."""

    threshold: float
    overall: Metrics
    by_language: dict[str, Metrics]
    errors: list[dict[str, object]] = field(default_factory=list)
    open_world: OpenWorld | None = None
    places: PlaceMetrics | None = None
    place_errors: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "overall": self.overall.as_dict(),
            "by_language": {lang: m.as_dict() for lang, m in sorted(self.by_language.items())},
            "errors": self.errors,
            "open_world": self.open_world.as_dict() if self.open_world else None,
            "places": self.places.as_dict() if self.places else None,
            "place_errors": self.place_errors,
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
        if self.open_world is not None:
            lines.append(open_world_line(self.open_world))
        if self.places is not None and self.places.items:
            p = self.places
            lines.append(
                f"places   {p.items:>4} items: primary department exact {p.primary_accuracy:.3f} "
                f"({p.primary_right}/{p.items}); department list precision {p.precision:.3f} "
                f"({p.listed_right}/{p.listed}), recall {p.recall:.3f} ({p.listed_right}/{p.labelled})"
            )
            for error in self.place_errors:
                lines.append(
                    f"  places: {error['id']} primary {error['primary']}"
                    f" (labelled {error['labelled_primary']}) departments {error['departments']}"
                    f" (labelled {error['labelled_departments']})"
                )
        return "\n".join(lines)


def open_world_line(o: OpenWorld) -> str:
    line = f"open world {o.items} items: {o.relevant} scored relevant ({100 * o.rate:.2f}%)"
    return "\n".join([line, *(f"  open-world false positive: {t}" for t in o.examples)])


def report(
    documents: Sequence[Document],
    scores: Sequence[float],
    threshold: float,
    places: Sequence[tuple[str | None, tuple[str, ...]]] | None = None,
) -> Report:
    """``places``: per document, the model's (primary department, department list), when known."""
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
    open_docs = [(d, p) for d, p in zip(documents, predicted, strict=True) if d.category == OPEN_WORLD]
    open_world = (
        OpenWorld(
            len(open_docs),
            sum(p for _, p in open_docs),
            tuple(d.title[:100] for d, p in open_docs if p)[:20],
        )
        if open_docs
        else None
    )
    place_metrics, place_errors = (None, []) if places is None else _places(documents, places)
    return Report(
        threshold, metrics(labels, predicted), by_language, errors, open_world, place_metrics, place_errors
    )


def _places(
    documents: Sequence[Document], places: Sequence[tuple[str | None, tuple[str, ...]]]
) -> tuple[PlaceMetrics, list[dict[str, object]]]:
    items = primary_right = listed = listed_right = labelled = 0
    errors: list[dict[str, object]] = []
    for d, (primary, departments) in zip(documents, places, strict=True):
        if d.departments is None:
            continue
        items += 1
        primary_right += primary == d.primary_department
        truth = set(d.departments)
        listed += len(departments)
        listed_right += len(truth.intersection(departments))
        labelled += len(truth)
        if primary != d.primary_department or set(departments) != truth:
            errors.append(
                {
                    "id": d.id,
                    "primary": primary,
                    "labelled_primary": d.primary_department,
                    "departments": list(departments),
                    "labelled_departments": list(d.departments),
                }
            )
    return PlaceMetrics(items, primary_right, listed, listed_right, labelled), errors


def read_labelled(path: Path | str) -> list[Document]:
    """Labelled JSON lines (``label``, ``title``, ``text``; optional ``id``, ``language``, ``url``,
    ``category``, ``departments``, ``primary_department``)."""
    documents = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                label = row["label"]
                where = places_of(row)
            except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as exc:
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
                    category=str(row.get("category") or ""),
                    url=row.get("url") if isinstance(row.get("url"), str) else None,
                    **where,
                )
            )
    return documents


def _place_pair(scored: Scored) -> tuple[str | None, tuple[str, ...]]:
    r = scored.analysis.reading
    return r.primary, tuple(r.units)


def evaluate(model: Model, documents: Iterable[Document], threshold: float | None = None) -> Report:
    """Score documents with a model and report; the language is detected when a line has none."""
    docs = list(documents)
    scored = [model.score(d.title, d.text, d.language, d.url) for d in docs]
    docs = [
        d if d.language else replace(d, language=s.analysis.language)
        for d, s in zip(docs, scored, strict=True)
    ]
    return report(
        docs,
        [s.score for s in scored],
        model.threshold if threshold is None else threshold,
        [_place_pair(s) for s in scored],
    )


# ---------------------------------------------------------------- the open world from a corpus


def open_world_items(directory: Path) -> Iterator[tuple[str, str, str, str | None]]:
    """(key, title, text, language) of every feed entry (``feeds/*``, deduplicated by article key) and
    every page (``pages/*.html`` or ``*.html.gz``, extracted as the pipeline extracts) of a directory."""
    from pipeline.extract.feeds import parse_feed
    from pipeline.extract.pages import extract_page

    seen: set[str] = set()
    feeds = directory / "feeds"
    for path in sorted(feeds.iterdir()) if feeds.is_dir() else ():
        if not path.is_file():
            continue
        try:
            parsed = parse_feed(path.read_bytes(), feed=path.name, url="http://corpus.invalid/")
        except ContentError:
            continue  # not a feed: nothing to classify
        for entry in parsed.entries:
            if entry.article_id in seen or not (entry.title or entry.summary):
                continue
            seen.add(entry.article_id)
            yield entry.article_id, entry.title, entry.summary, entry.language
    pages = directory / "pages"
    for path in sorted(pages.iterdir()) if pages.is_dir() else ():
        if not path.name.endswith((".html", ".html.gz")):
            continue
        body = path.read_bytes()
        page = extract_page(gzip.decompress(body) if path.name.endswith(".gz") else body)
        if page.text:
            yield f"page:{path.name}", page.title or "", page.text, None


def open_world(model: Model, directory: Path, threshold: float | None = None) -> OpenWorld:
    """Classify every entry and page of a corpus directory, all presumed not relevant."""
    if not (directory / "feeds").is_dir() and not (directory / "pages").is_dir():
        raise ConfigError(f"{directory}: no feeds/ or pages/ directory to read the open world from")
    cut = model.threshold if threshold is None else threshold
    items = relevant = 0
    examples: list[str] = []
    for _key, title, text, language in open_world_items(directory):
        items += 1
        if model.score(title, text, language).score >= cut:
            relevant += 1
            if len(examples) < 20:
                examples.append(title[:100])
    return OpenWorld(items, relevant, tuple(examples))


def as_json(report_: Report, extra: dict[str, Any]) -> str:
    return json.dumps({**extra, **report_.as_dict()}, indent=2, ensure_ascii=False)
