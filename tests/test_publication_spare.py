"""Publication in proportion to the change: the retired copy (the spare) receives only the blocks a
load changed, never while anyone reads it, and a damaged block never reaches the analyst copy.
Real DuckDB files and a real analyst session in another process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest

from pipeline import store
from pipeline import tasks as ingest
from pipeline.errors import CorruptDatabase
from pipeline.store import publication
from tests.test_publication import BLOCK, scribble


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_some(settings, label: str) -> None:
    """A small change, published as every write is."""
    with store.writing(settings) as con:
        con.execute("delete from labels")
        con.execute(
            "insert into labels (article_id, label, labelled_by, labelled_at)"
            " select article_id, 'relevant', ?, now() from articles limit 3",
            [label],
        )


@pytest.fixture
def settings(sample_settings):
    ingest.run_once(sample_settings)
    return replace(sample_settings, snapshots=1)


def test_a_retired_copy_receives_only_the_changed_blocks_and_snapshots_stay_as_they_were(settings):
    spare = publication.spare_path(settings)
    write_some(settings, "a")  # the copy of the cycle is pruned: it becomes the spare
    assert spare.exists() and spare.stat().st_nlink == 1
    snap = publication.snapshots(settings)[0]
    kept = digest(snap)
    write_some(settings, "b")
    (done,) = publication.LAST
    assert done.patched
    blocks = (settings.db_path.stat().st_size - publication.DATA_START) // BLOCK
    assert done.blocks_written is not None and 0 < done.blocks_written < blocks
    assert digest(settings.analyst_db) == digest(settings.db_path), "byte for byte the database"
    assert settings.analyst_db.stat().st_mode & 0o777 == 0o444
    # The snapshot of "a", pruned by this publication, is the spare now: its bytes untouched.
    assert not snap.exists() and digest(spare) == kept, "a snapshot is never written into"
    publication.verify(settings.analyst_db)
    with duckdb.connect(str(settings.analyst_db), read_only=True) as con:
        assert con.execute("select distinct labelled_by from labels").fetchall() == [("b",)]


def test_without_snapshots_the_replaced_copy_is_the_spare(settings):
    bare = replace(settings, snapshots=0)
    write_some(bare, "a")
    write_some(bare, "b")
    assert publication.LAST[0].patched
    assert digest(bare.analyst_db) == digest(bare.db_path)


READER = """
import hashlib, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
held = open(sys.argv[1], "rb")  # the same inode, whatever its name becomes
print(con.execute("select count(*) from articles").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from articles").fetchone()[0], hashlib.sha256(held.read()).hexdigest())
"""


def test_a_spare_an_analyst_still_reads_is_left_alone(settings):
    write_some(settings, "a")
    spare = publication.spare_path(settings)
    before = digest(spare)
    # An analyst session opened before the copy was retired still reads that inode.
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(spare)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        count = int(reader.stdout.readline())
        assert count > 0
        write_some(settings, "b")
        assert not publication.LAST[0].patched, "copied whole instead"
    finally:
        out, _ = reader.communicate("\n", timeout=30)
    assert out.split() == [str(count), before], "the reader's file was not written into"
    assert digest(settings.analyst_db) == digest(settings.db_path)


def test_a_spare_open_in_this_process_is_left_alone(settings):
    write_some(settings, "a")
    spare = publication.spare_path(settings)
    with open(spare, "rb"):
        write_some(settings, "b")
        assert not publication.LAST[0].patched


def test_a_damaged_block_is_found_before_the_patched_copy_is_published(settings):
    settings = replace(settings, publish_verify_minutes=600.0)
    write_some(settings, "a")
    write_some(settings, "b")  # a whole check now lies in the past: the next one is light
    good = digest(settings.analyst_db)

    real = publication._patch

    def damage_then_patch(db, fd):
        # The block's checksum field itself: the block differs from the spare's, is copied, is checked.
        scribble(db, 2, os.urandom(16), offset=0)
        return real(db, fd)

    publication._patch = damage_then_patch
    try:
        with pytest.raises(CorruptDatabase, match="checksum mismatch in block 2"):
            publication.publish(settings)
    finally:
        publication._patch = real
    assert digest(settings.analyst_db) == good
    assert not list(settings.analyst_db.parent.glob(".*.tmp*"))


def test_the_whole_check_runs_when_due(settings, monkeypatch):
    calls = []
    real = publication.verify
    monkeypatch.setattr(publication, "verify", lambda path, **kw: calls.append(path) or real(path, **kw))
    hourly = replace(settings, publish_verify_minutes=60.0)
    write_some(hourly, "a")
    write_some(hourly, "b")
    assert publication.LAST[0].patched and not publication.LAST[0].whole_check
    os.utime(publication.verified_marker(hourly), (0, 0))  # the last whole check: long ago
    write_some(hourly, "c")
    assert publication.LAST[0].patched and publication.LAST[0].whole_check
    calls.clear()
    write_some(replace(hourly, publish_verify_minutes=0.0), "d")
    assert calls and publication.LAST[0].whole_check
