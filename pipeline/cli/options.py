"""The options several commands share, declared once."""

from __future__ import annotations

import argparse
from pathlib import Path

DB_HELP = "DuckDB file (default data/vigia.duckdb, or $VIGIA_DB)"
FEEDS_HELP = "feed registry (default feeds.toml, or $VIGIA_FEEDS)"


def add_db(parser: argparse.ArgumentParser, help: str = DB_HELP) -> None:
    """``--db PATH``: the database a command works on (``settings_from_args`` reads it)."""
    parser.add_argument("--db", type=Path, help=help)


def add_feeds(parser: argparse.ArgumentParser) -> None:
    """``--feeds PATH``: the feed registry."""
    parser.add_argument("--feeds", type=Path, help=FEEDS_HELP)
