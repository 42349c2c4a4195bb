"""How Vigía opens a DuckDB database: its file, the analyst copy and the copies it checks, the lake
(only the scratch databases that compare macro definitions in memory do without).

``VIGIA_DB_THREADS`` caps the threads of what it opens. The cap is set on the open database
(``set threads``), not passed as its configuration: DuckDB refuses a second connection to a file
with another configuration than the first one's, and an analyst's shell in the same process, or a
test, may hold one with DuckDB's defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def connect(
    database: str | Path = ":memory:",
    read_only: bool = False,
    threads: int = 0,
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with at most ``threads`` threads (0: DuckDB's default, one per core)."""
    con = duckdb.connect(str(database), read_only=read_only, config=config or {})
    if threads:
        try:
            con.execute(f"set threads = {int(threads)}")
        except BaseException:
            con.close()
            raise
    return con
