"""Subcommands of ``python -m pipeline``: classify, evaluate, retrain, reclassify.

``register(subparsers)`` adds them; each handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline.classify.model import Model
from pipeline.classify.versions import load_model
from pipeline.cli import options
from pipeline.records import Classification

if TYPE_CHECKING:
    import duckdb

    from pipeline.classify.model import Model
    from pipeline.settings import Settings


def register(subparsers: Any) -> None:
    classify = subparsers.add_parser(
        "classify",
        help="score JSON lines {id, title, text} from stdin; JSON lines on stdout",
        description="Reads JSON lines with id, title and text (language and url optional: a Peruvian "
        "outlet's URL is evidence of Peru) on stdin and writes one "
        "JSON line per input, in order: id, relevant, score, topics, places, primary_department, province, "
        "district, evidence, model_version. "
        "A line that cannot be read gives a line with an 'error' field instead.",
    )
    options.add_db(classify, "use the newest model stored in this DuckDB file")
    classify.set_defaults(func=cmd_classify)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="precision/recall per language, open-world false positives and department accuracy",
        description="Reads JSON lines with label (relevant | not_relevant | ambiguous), title, text and "
        "optional id, language (detected when absent), category (open_world: general news reported as "
        "the share scored relevant) and departments / primary_department (department accuracy). "
        "--open-world DIR classifies every feed entry (DIR/feeds/*) and page (DIR/pages/*.html[.gz]) of a "
        "corpus of general news, all presumed not relevant.",
    )
    evaluate.add_argument("file", type=Path, nargs="?", help="labelled JSON lines")
    evaluate.add_argument(
        "--open-world",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a corpus directory of general news (feeds/ and pages/); repeatable",
    )
    options.add_db(evaluate, "evaluate the newest model stored in this DuckDB file")
    evaluate.add_argument("--threshold", type=float, help="decision threshold (default: the model's)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.set_defaults(func=cmd_evaluate)

    retrain = subparsers.add_parser(
        "retrain",
        help="build a new model version from seeds, examples and analysts' labels; compare; store it",
    )
    options.add_db(retrain)
    retrain.add_argument("--dry-run", action="store_true", help="compare only; do not store the new version")
    retrain.add_argument("--json", action="store_true", help="machine-readable output")
    retrain.set_defaults(func=cmd_retrain)

    reclassify = subparsers.add_parser(
        "reclassify",
        help="score stored articles with the newest model version (older versions' rows are kept)",
    )
    options.add_db(reclassify)
    reclassify.add_argument(
        "--all", action="store_true", help="re-score every article, not only those the version has not scored"
    )
    reclassify.set_defaults(func=cmd_reclassify)


def classification_json(item_id: Any, c: Classification) -> dict[str, Any]:
    return {
        "id": item_id,
        "relevant": c.is_relevant,
        "score": c.score,
        "topics": list(c.topics),
        "places": [{"ubigeo": p.ubigeo, "name": p.name} for p in c.places],
        "primary_department": c.primary_department,
        "province": c.province,
        "district": c.district,
        "evidence": {
            "terms": [[term, weight] for term, weight in c.evidence.terms],
            "nearest_seed": c.evidence.nearest_seed,
            "seed_similarity": c.evidence.seed_similarity,
            "notes": list(c.evidence.notes),
        },
        "model_version": c.model_version,
    }


def classify_lines(model: Model, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One output object per non-blank input line, in order; unreadable lines give an 'error' object."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield {"id": None, "line": number, "error": f"not JSON: {exc}"}
            continue
        if not isinstance(item, dict):
            yield {"id": None, "line": number, "error": "not a JSON object"}
            continue
        item_id = item.get("id")
        title, text, language = item.get("title"), item.get("text"), item.get("language")
        url = item.get("url") if isinstance(item.get("url"), str) else None
        if item_id is None:
            yield {"id": None, "line": number, "error": "missing 'id'"}
        elif not isinstance(title, str | None) or not isinstance(text, str | None):
            yield {"id": item_id, "line": number, "error": "'title' and 'text' must be strings"}
        elif not (title or text):
            yield {"id": item_id, "line": number, "error": "no 'title' or 'text' to classify"}
        else:
            lang = language if isinstance(language, str) and language else None
            yield classification_json(item_id, model.classify(title or "", text or "", lang, url))


def _model(db: Path | None) -> Model:
    """The newest model stored in ``db``, else the base model, read from the model cache beside the
    database when there is one (a command is a new process: without it each would fit the model)."""
    from pipeline.settings import Settings

    return load_model(db, cache_dir=Settings.from_env(db_path=db).cache_dir if db is not None else None)


def cmd_classify(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    model = _model(args.db)
    out = stdout or sys.stdout
    for result in classify_lines(model, stdin or sys.stdin):
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.classify.evaluation import evaluate, open_world, open_world_line, read_labelled

    if args.file is None and not args.open_world:
        print("evaluate: give a labelled file, --open-world DIR, or both", file=sys.stderr)
        return 2
    model = _model(args.db)
    result = evaluate(model, read_labelled(args.file), args.threshold) if args.file else None
    corpora = {str(d): open_world(model, d, args.threshold) for d in args.open_world}
    if args.json:
        out: dict[str, Any] = {"model_version": model.version}
        if result is not None:
            out.update(result.as_dict())
        if corpora:
            out["open_world_corpora"] = {name: o.as_dict() for name, o in corpora.items()}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(f"model {model.version}")
        if result is not None:
            print(result.as_text())
        for name, o in corpora.items():
            print(f"{name}: " + open_world_line(o))
    return 0


@contextlib.contextmanager
def _writer(db: Path | None) -> Iterator[tuple[duckdb.DuckDBPyConnection, Settings]]:
    """A write connection under the writer lock, and the settings; afterwards the analyst copy is
    republished."""
    from pipeline import store
    from pipeline.load.trends import refresh_trends
    from pipeline.settings import Settings

    settings = Settings.from_env(db_path=db) if db is not None else Settings.from_env()
    with store.writing(settings) as con:
        yield con, settings
        # A new model or new decisions change what the trend views count: bring their facts in step.
        with store.transaction(con):
            refresh_trends(con, [], datetime.now(UTC))


def cmd_retrain(args: argparse.Namespace) -> int:
    from pipeline.classify.retrain import retrain

    with _writer(args.db) as (con, settings):
        result = retrain(con, dry_run=args.dry_run, cache_dir=settings.cache_dir)
    if args.json:
        summary = {
            "new_version": result.new_version,
            "parent_version": result.parent_version,
            "stored": result.stored,
        }
        print(json.dumps({**summary, **result.metrics()}, indent=2))
    else:
        print(result.as_text())
    return 0


def cmd_reclassify(args: argparse.Namespace) -> int:
    from pipeline.classify.versions import base_model, newest_model_from, reclassify

    with _writer(args.db) as (con, settings):
        model = newest_model_from(con) or base_model(settings.cache_dir)
        scored, relevant = reclassify(con, model, everything=args.all)
    print(f"reclassified {scored} articles with {model.version}: {relevant} relevant")
    return 0
