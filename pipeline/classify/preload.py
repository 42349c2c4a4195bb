"""Imported by the extraction workers' fork server only (``pipeline/extract/workers.py``), never by
a running stage: the tables every classification needs, built once in the fork server so that each
worker forked from it shares them instead of building them for itself.

A pool's workers live for one batch, so without this every worker of every batch spent 0.4 s of
CPU on its first article: the places lexicon (read from the cache, or built), then the matcher over
every term. The fork server reads the lexicon from the cache directory its parent named in
``PRELOAD_CACHE_VARIABLE`` when it started; without one it builds it (a second, once a fork server).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.classify import features, lexicon
from pipeline.extract.workers import PRELOAD_CACHE_VARIABLE

if os.environ.get(PRELOAD_CACHE_VARIABLE) and lexicon.cache_dir() is None:
    lexicon.use_cache(Path(os.environ[PRELOAD_CACHE_VARIABLE]))
features.matcher()


def built() -> tuple[int, int]:
    """How often this process built the matcher, and whether it holds it: (1, 1) in a worker forked
    from a fork server that ran this module (and never built it again)."""
    info = features.matcher.cache_info()
    return info.misses, info.currsize
