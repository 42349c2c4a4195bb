"""Building a model: labelled documents -> features -> a logistic regression fitted in numpy.

Training is deterministic (full-batch accelerated gradient descent from zero weights, a fixed number
of steps, no random numbers), so the same documents always give the same weights and version.

Documents come from three sources, weighted by how much each says about real articles:
    seeds       the five analyst-chosen relevant documents (``seeds/``)             weight 1
    examples    short news-style texts the project wrote (``examples/*.jsonl``)     weight 1
    analyst     articles labelled by analysts (``labels`` joined to ``articles``)  weight 3
Both classes are then given equal total weight, so 0.5 is the model's point of indifference.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.classify.features import DENSE_FEATURES, Analysis, analyze, dense_features, stem_features
from pipeline.classify.model import MODEL_THRESHOLD, PARAMS_FORMAT, Model
from pipeline.classify.seeds import SeedIndex, inverse_document_frequencies, load_seeds
from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
SOURCE_WEIGHTS = {"seed": 1.0, "example": 1.0, "analyst": 3.0}
MIN_STEM_DOCUMENTS = 3  # a stem enters the vocabulary when this many training documents have it
DENSE_L2 = 0.01  # penalties on the standardised dense features and on the (unit-length) stem features
STEM_L2 = 0.002
STEPS = 1000  # converged: weights agree with 5,000 steps to the third decimal
FOLDS = 5


@dataclass(frozen=True, slots=True)
class Document:
    """A labelled text to learn from or to be judged on."""

    id: str
    label: str  # relevant | not_relevant | ambiguous
    title: str
    text: str
    language: str | None = None
    source: str = "example"  # seed | example | analyst
    category: str = ""  # for examples: what kind of text (e.g. "foreign_crime", "extortion")
    # Where it happens, when the file says (``departments`` codes; ``primary_department`` or None):
    departments: tuple[str, ...] | None = None
    primary_department: str | None = None
    url: str | None = None  # where it was published: a Peruvian outlet is evidence of Peru

    @property
    def y(self) -> int:
        return 1 if self.label == "relevant" else 0


def load_examples(directory: Path = EXAMPLES_DIR) -> list[Document]:
    """The project's written examples: every ``*.jsonl`` file of the directory, in name order."""
    documents = []
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                documents.append(
                    Document(
                        id=row["id"],
                        label=row["label"],
                        title=row.get("title", ""),
                        text=row["text"],
                        language=row.get("language"),
                        source="example",
                        category=row.get("category", ""),
                        url=row.get("url"),
                        **places_of(row),
                    )
                )
            except (json.JSONDecodeError, KeyError, ConfigError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled example: {exc}") from exc
    return documents


def places_of(row: dict[str, Any]) -> dict[str, Any]:
    """The ``departments`` and ``primary_department`` of a labelled line, when it carries them."""
    departments = row.get("departments")
    if departments is None:
        return {}
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        raise ConfigError(f"'departments' must be a list of ubigeo codes, not {departments!r}")
    primary = row.get("primary_department")
    if primary is not None and not isinstance(primary, str):
        raise ConfigError(f"'primary_department' must be a ubigeo code or null, not {primary!r}")
    return {"departments": tuple(departments), "primary_department": primary}


def seed_documents() -> list[Document]:
    # The seed files carry their own headline (if any) in the text, so the title stays empty.
    return [
        Document(s.file, s.label, "", s.text, s.language, source="seed", category="seed")
        for s in load_seeds()
    ]


def project_documents() -> list[Document]:
    """The project's own labelled set: seeds plus written examples (the quality gate's corpus)."""
    return seed_documents() + load_examples()


@dataclass(frozen=True, slots=True)
class Design:
    """The training matrix, one row a document: the standardised dense features, then one column a
    stem of the vocabulary, kept as its non-zero entries. A document has a few dozen of the
    vocabulary's stems, so the stem block is about 99% zeros (1,452 columns of the base model's
    1,489), and each step of the descent multiplies by the matrix twice: done densely, that was 0.64 s
    of a base model's 1.35 s; this way 0.11 s."""

    dense: Any  # documents x dense features
    rows: Any  # row, column and value of each non-zero stem entry
    columns: Any
    values: Any
    stems: int  # columns of the stem block

    @property
    def width(self) -> int:
        return self.dense.shape[1] + self.stems

    def times(self, beta: Any) -> Any:
        """The matrix times a vector of weights: one number a document."""
        import numpy as np

        k = self.dense.shape[1]
        stem_part = np.bincount(
            self.rows, weights=self.values * beta[k + self.columns], minlength=self.dense.shape[0]
        )
        return self.dense @ beta[:k] + stem_part

    def transposed_times(self, r: Any) -> Any:
        """The transposed matrix times a vector of one number a document: one number a column."""
        import numpy as np

        stem_part = np.bincount(self.columns, weights=self.values * r[self.rows], minlength=self.stems)
        return np.concatenate([self.dense.T @ r, stem_part])


def fit_logistic(x: Design, y: Any, weights: Any, penalties: Any, steps: int = STEPS) -> tuple[Any, float]:
    """Weighted L2-penalised logistic regression by Nesterov-accelerated gradient descent.

    Minimises Σ wᵢ·logloss(yᵢ, σ(xᵢ·β + b)) / Σ wᵢ + ½ Σ λⱼ βⱼ². Returns (β, b).
    """
    import numpy as np

    w = weights / weights.sum()
    # Step size 1/L: L bounds the curvature, ¼·‖X‖² for the weighted loss plus the largest penalty.
    # ‖X‖² (the largest eigenvalue of Xᵀ·diag(w)·X) by power iteration from a fixed start
    # (deterministic, and far cheaper than an SVD); the 10% margin covers what 50 iterations leave
    # unconverged.
    vector = np.ones(x.width) / np.sqrt(x.width)
    spectral = 0.0
    for _ in range(50):
        image = x.transposed_times(w * x.times(vector))
        spectral = float(np.linalg.norm(image))
        if spectral == 0.0:
            break
        vector = image / spectral
    step = 1.0 / (0.25 * (1.1 * spectral + 1.0) + float(penalties.max()))
    beta = np.zeros(x.width)
    bias = 0.0
    beta_prev, bias_prev = beta.copy(), bias
    for k in range(1, steps + 1):
        momentum = (k - 1) / (k + 2)
        look_beta = beta + momentum * (beta - beta_prev)
        look_bias = bias + momentum * (bias - bias_prev)
        p = 1.0 / (1.0 + np.exp(-(x.times(look_beta) + look_bias)))
        residual = w * (p - y)
        grad_beta = x.transposed_times(residual) + penalties * look_beta
        grad_bias = residual.sum()
        beta_prev, bias_prev = beta, bias
        beta = look_beta - step * grad_beta
        bias = look_bias - step * grad_bias
    return beta, float(bias)


def _seed_similarities(
    analyses: Sequence[Analysis], documents: Sequence[Document], index: SeedIndex
) -> list[float]:
    similarities = []
    for analysis, document in zip(analyses, documents, strict=True):
        if document.source == "seed":
            # A seed is trivially similar to itself: measure it against the other seeds instead.
            others = {k: v for k, v in index.vectors.items() if k != document.id}
            _, similarity = SeedIndex(others, index.idf).nearest(analysis)
        else:
            _, similarity = index.nearest(analysis)
        similarities.append(similarity)
    return similarities


def build_params(
    documents: Sequence[Document],
    analyses: Sequence[Analysis] | None = None,
    notes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit a model on labelled documents (ambiguous ones are left out) and return its params."""
    import numpy as np

    pairs = [
        (d, a)
        for d, a in zip(
            documents,
            analyses or [analyze(d.title, d.text, d.language, d.url) for d in documents],
            strict=True,
        )
        if d.label in ("relevant", "not_relevant")
    ]
    docs = [d for d, _ in pairs]
    found = [a for _, a in pairs]
    if len({d.y for d in docs}) < 2:
        raise ConfigError("training needs both relevant and not_relevant documents")
    idf = inverse_document_frequencies(a.stems for a in found)
    seeds = {d.id: a for d, a in pairs if d.source == "seed"}
    index = SeedIndex.build(seeds, idf)
    similarities = _seed_similarities(found, docs, index)

    document_counts: dict[str, int] = {}
    for a in found:
        for key in a.stems:
            document_counts[key] = document_counts.get(key, 0) + 1
    vocabulary = sorted(k for k, c in document_counts.items() if c >= MIN_STEM_DOCUMENTS)
    column = {key: j for j, key in enumerate(vocabulary)}

    names = list(DENSE_FEATURES)
    rows = [dense_features(a, s) for a, s in zip(found, similarities, strict=True)]
    dense = np.array([[row[f] for f in names] for row in rows])
    entries = [
        (i, column[key], value)
        for i, a in enumerate(found)
        for key, value in stem_features(a, column).items()
    ]
    mean = dense.mean(axis=0)
    std = dense.std(axis=0)
    std[std == 0] = 1.0
    x = Design(
        dense=(dense - mean) / std,
        rows=np.array([e[0] for e in entries], dtype=np.intp),
        columns=np.array([e[1] for e in entries], dtype=np.intp),
        values=np.array([e[2] for e in entries], dtype=float),
        stems=len(vocabulary),
    )
    y = np.array([d.y for d in docs], dtype=float)
    weights = np.array([SOURCE_WEIGHTS[d.source] for d in docs])
    for label in (0, 1):  # both classes weigh the same in total
        weights[y == label] /= weights[y == label].sum()
    penalties = np.concatenate([np.full(len(names), DENSE_L2), np.full(len(vocabulary), STEM_L2)])
    beta, bias = fit_logistic(x, y, weights, penalties)

    # Back to raw feature units, so a weight times the feature is that feature's push on the log-odds.
    dense_weights = beta[: len(names)] / std
    bias -= float((beta[: len(names)] * mean / std).sum())
    stem_weights = {k: round(float(b), 5) for k, b in zip(vocabulary, beta[len(names) :], strict=True)}
    return {
        "format": PARAMS_FORMAT,
        "threshold": MODEL_THRESHOLD,
        "bias": round(bias, 5),
        "dense": {f: round(float(b), 5) for f, b in zip(names, dense_weights, strict=True)},
        "stems": {k: b for k, b in stem_weights.items() if abs(b) >= 1e-4},
        "idf": idf,
        "seed_vectors": index.vectors,
        "training": {
            "documents": {s: sum(1 for d in docs if d.source == s) for s in SOURCE_WEIGHTS},
            "relevant": int(y.sum()),
            "not_relevant": int(len(y) - y.sum()),
            **(notes or {}),
        },
    }


def build_base_params() -> dict[str, Any]:
    """The shipped model: seeds plus written examples."""
    return build_params(project_documents())


def folds(documents: Sequence[Document], k: int = FOLDS) -> list[int]:
    """Deterministic stratified folds: within each label, documents are dealt round-robin by id."""
    assignment = [0] * len(documents)
    for label in {d.label for d in documents}:
        members = sorted(
            (i for i, d in enumerate(documents) if d.label == label), key=lambda i: documents[i].id
        )
        for position, i in enumerate(members):
            assignment[i] = position % k
    return assignment


def cross_validate(
    documents: Sequence[Document], extra: Sequence[Document] = (), k: int = FOLDS
) -> list[float]:
    """Out-of-fold scores of ``documents``: each scored by a model trained without its fold.

    ``extra`` documents are always in training (e.g. the written examples when validating on
    analysts' labels).
    """
    analyses = [analyze(d.title, d.text, d.language, d.url) for d in documents]
    extra_analyses = [analyze(d.title, d.text, d.language, d.url) for d in extra]
    assignment = folds(documents, k)
    scores = [math.nan] * len(documents)
    for fold in range(k):
        train = [i for i in range(len(documents)) if assignment[i] != fold]
        test = [i for i in range(len(documents)) if assignment[i] == fold]
        if not test:
            continue
        params = build_params(
            [documents[i] for i in train] + list(extra), [analyses[i] for i in train] + extra_analyses
        )
        model = Model(params, f"cv{fold}")
        for i in test:
            d = documents[i]
            scores[i] = model.score(d.title, d.text, d.language, d.url).score
    return scores
