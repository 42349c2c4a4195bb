"""The storage (being split into one backend interface and its two implementations)."""

from pipeline.store.duckdb_file import *  # noqa: F403
from pipeline.store.duckdb_file import (  # noqa: F401
    _check_before_writing,
    _file_lock,
    _lock_key,
    _reentrant,
    _settings,
    _wait,
)
