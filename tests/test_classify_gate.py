"""The classifier's quality gate: pinned precision and recall floors, like trafilatura's eval gate.

The corpus is the project's own labelled set: the five seeds plus the examples it wrote
(``pipeline/classify/examples/*.jsonl``). Views of it are pinned:

* cross-validated (each document scored by a model trained without it): what a change does to the
  model's judgement on texts it has not seen;
* in-sample (the shipped base model on its own training set): a change that makes the model unable
  to even fit its examples;
* places: the primary department and the department list against the examples that carry them.

Hard-case categories (crime abroad, weather emergencies, economy, corruption, other senses of
"security", the open world...) have their own floors, so a change cannot buy overall figures with the
cases analysts care most about.

The held-out set (``pipeline/classify/heldout/``) was written before the model was tuned and is never
trained on: it is held to the issue's targets (precision and recall at least 0.95 in each language,
no open-world item scored relevant, places). Where the shared development set and corpus are present
beside the repository, the development set is held to the same targets and the corpus's general
news (every feed entry and page) to at most 0.3% scored relevant; they are skipped elsewhere.

When a change raises the figures, raise the floors with it (never lower them to let a change pass).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from pipeline.classify.evaluation import evaluate, read_labelled, report
from pipeline.classify.features import analyze
from pipeline.classify.training import cross_validate, project_documents
from pipeline.classify.versions import load_model
from tests.conftest import warm_model_cache

# Floors: (precision, recall) for relevant vs not relevant.
CROSS_VALIDATED_FLOORS = {"overall": (0.98, 0.97), "es": (0.97, 0.96), "en": (0.97, 0.97)}
IN_SAMPLE_FLOORS = {"overall": (0.99, 0.99), "es": (0.99, 0.99), "en": (0.99, 0.99)}
# Share of each category's documents classified correctly under cross-validation.
CATEGORY_FLOORS = {
    "foreign_crime": 0.97,
    "disaster": 0.95,
    "economy": 0.95,
    "sports": 1.0,
    "tourism_culture": 1.0,
    "elections": 0.95,
    "world": 1.0,
    "other_news": 0.95,
    "other_security": 0.95,
    "corruption": 0.9,
    "open_world": 1.0,
    "explosive_attack": 0.95,
    "kidnapping": 0.95,
}
# (primary department exact, department list precision, recall) on the examples that carry places.
PLACE_FLOORS = (0.97, 0.95, 0.95)
TARGETS = {"precision": 0.95, "recall": 0.95}
HELD_OUT = Path(__file__).resolve().parent.parent / "pipeline" / "classify" / "heldout"
HELD_OUT_PLACE_FLOORS = (0.95, 0.85, 0.95)
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEV_SET = SHARED / "eval" / "dev.jsonl"
CORPUS = SHARED / "corpus"
OPEN_WORLD_CEILING = 0.003


@pytest.fixture(scope="module")
def documents():
    return project_documents()


@pytest.fixture(scope="module")
def cross_validated(documents):
    return cross_validate(documents)


def check_floors(result, floors):
    scopes = {"overall": result.overall, **result.by_language}
    for scope, (precision, recall) in floors.items():
        m = scopes[scope]
        assert m.precision >= precision, (
            f"{scope}: precision {m.precision:.3f} < {precision}\n{result.as_text()}"
        )
        assert m.recall >= recall, f"{scope}: recall {m.recall:.3f} < {recall}\n{result.as_text()}"


def test_the_project_set_is_balanced_and_bilingual(documents):
    counts = defaultdict(int)
    for d in documents:
        counts[d.label, d.language] += 1
    for label in ("relevant", "not_relevant"):
        for language in ("es", "en"):
            assert counts[label, language] >= 60, dict(counts)
    assert len({d.id for d in documents}) == len(documents)


def test_cross_validated_floors(documents, cross_validated):
    check_floors(report(documents, cross_validated, load_model().threshold), CROSS_VALIDATED_FLOORS)


def test_in_sample_floors(documents):
    check_floors(evaluate(load_model(), documents), IN_SAMPLE_FLOORS)


def test_hard_case_categories(documents, cross_validated):
    threshold = load_model().threshold
    right, total = defaultdict(int), defaultdict(int)
    for d, score in zip(documents, cross_validated, strict=True):
        total[d.category] += 1
        right[d.category] += (score >= threshold) == (d.label == "relevant")
    for category, floor in CATEGORY_FLOORS.items():
        assert total[category] >= 5, category
        assert right[category] / total[category] >= floor, f"{category}: {right[category]}/{total[category]}"


def test_every_seed_is_relevant():
    model = load_model()
    seeds = [d for d in project_documents() if d.source == "seed"]
    assert len(seeds) == 5
    assert all(model.classify(d.title, d.text, d.language).is_relevant for d in seeds)


def test_places_of_the_examples(documents):
    placed = [d for d in documents if d.departments is not None]
    assert len(placed) >= 70
    pairs = []
    for d in placed:
        r = analyze(d.title, d.text, d.language, d.url).reading
        pairs.append((r.primary, tuple(r.units)))
    result = report(placed, [1.0] * len(placed), 0.5, pairs)
    p = result.places
    assert p is not None
    primary, precision, recall = PLACE_FLOORS
    assert p.primary_accuracy >= primary and p.precision >= precision and p.recall >= recall, result.as_text()


def held_out_documents():
    return [d for path in sorted(HELD_OUT.glob("*.jsonl")) for d in read_labelled(path)]


def test_held_out_set_meets_the_targets():
    documents = held_out_documents()
    assert len(documents) >= 100
    assert not {d.id for d in documents} & {d.id for d in project_documents()}  # never trained on
    result = evaluate(load_model(), documents)
    for language, m in result.by_language.items():
        assert m.precision >= TARGETS["precision"], f"{language}\n{result.as_text()}"
        assert m.recall >= TARGETS["recall"], f"{language}\n{result.as_text()}"
    assert result.open_world is not None and result.open_world.relevant == 0, result.as_text()
    p = result.places
    assert p is not None and p.items >= 40
    primary, precision, recall = HELD_OUT_PLACE_FLOORS
    assert p.primary_accuracy >= primary and p.precision >= precision and p.recall >= recall, result.as_text()


@pytest.mark.corpus
@pytest.mark.skipif(not DEV_SET.exists(), reason="shared development set (../shared/eval) not present")
def test_development_set_targets():
    result = evaluate(load_model(), read_labelled(DEV_SET))
    for language, m in result.by_language.items():
        assert m.precision >= TARGETS["precision"], f"{language}\n{result.as_text()}"
        assert m.recall >= TARGETS["recall"], f"{language}\n{result.as_text()}"


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "feeds").is_dir(), reason="shared corpus (../shared/corpus) not present")
def test_open_world_rate_on_the_shared_corpus(tmp_path):
    # Through the documented command, in its own process (6,600 texts and 181 pages extracted: the
    # memory that takes is not this test process's). With a database's model cache beside it, as on
    # a deployment after its first cycle: the base model is read, not fitted again (2.6 s of CPU).
    warm_model_cache(tmp_path)
    db = str(tmp_path / "vigia.duckdb")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "evaluate", "--open-world", str(CORPUS), "--db", db, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    found = json.loads(done.stdout)["open_world_corpora"][str(CORPUS)]
    assert found["items"] >= 3000
    assert found["rate"] <= OPEN_WORLD_CEILING, found
