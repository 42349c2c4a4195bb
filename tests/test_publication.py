"""The last good data survives: publication verifies before it replaces the analyst copy, keeps
dated snapshots, and ``python -m pipeline restore`` puts one back. Real DuckDB files, damaged the
ways disks and operators damage them, and the CLI in subprocesses."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest

from pipeline import store
from pipeline.errors import ConfigError, CorruptDatabase, StoreError
from pipeline.store import publication
from tests import test_alerts_dags, test_alerts_outbox
from tests.conftest import REPO, make_settings, run_cli
from tests.localweb import sample_feeds_toml

# The SMTP server on 127.0.0.1 and the deployment's environment, as the alert DAG tests use them.
mail = test_alerts_outbox.mail
vigia_env = test_alerts_dags.vigia_env

BLOCK = 262144


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def blocks_of(path) -> int:
    return (path.stat().st_size - publication.DATA_START) // BLOCK


def scribble(path, block: int, data: bytes | None = None, offset: int = 5000) -> None:
    """Write random bytes (or ``data``) into the middle of one block, as a failing disk would."""
    with open(path, "r+b") as fh:
        fh.seek(publication.DATA_START + block * BLOCK + offset)
        fh.write(data if data is not None else os.urandom(4096))


@pytest.fixture
def loaded(loaded_settings):
    """One committed, published cycle of the sample web (the session's, copied)."""
    return loaded_settings


# ---------------------------------------------------------------- verification


def test_a_sound_database_passes_and_damage_in_any_block_is_found(loaded, tmp_path):
    scan = publication.verify(loaded.db_path)
    assert scan.blocks == blocks_of(loaded.db_path) > 10 and scan.empty == 0
    for block in range(scan.blocks):  # every block: those DuckDB reads during a cycle and the others
        damaged = tmp_path / f"damaged-{block}.duckdb"
        damaged.write_bytes(loaded.db_path.read_bytes())
        scribble(damaged, block)
        with pytest.raises(CorruptDatabase, match=f"checksum mismatch in block {block},"):
            publication.verify(damaged)
        damaged.unlink()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(os.urandom(3 * BLOCK)), "not a DuckDB database"),
        (lambda p: p.write_bytes(b"not a database\n" * 100), "truncated"),
        (lambda p: os.truncate(p, p.stat().st_size // 2 + 1234), "truncated: the file ends inside block"),
        (lambda p: os.truncate(p, 8000), "truncated: 8000 bytes"),
        (lambda p: _patch(p, 4096 + 100, b"\x07" * 8), "checksum mismatch in file header 1"),
        (lambda p: _patch(p, 0 + 50, b"\x07" * 8), "checksum mismatch in file header 0"),
        # A block zeroed out looks like a free block given back to the file system; there are
        # not that many free blocks, or DuckDB cannot read a table.
        (
            lambda p: _patch(p, publication.DATA_START + 3 * BLOCK, bytes(BLOCK)),
            "zeroed|DuckDB cannot|cannot be read",
        ),
        # Whole blocks cut off the end: the tables that lived there cannot be read back.
        (lambda p: os.truncate(p, p.stat().st_size - 4 * BLOCK), "DuckDB cannot|cannot be read"),
    ],
    ids=["random", "text", "truncated", "headers-only", "db-header", "main-header", "zeroed", "cut-blocks"],
)
def test_every_kind_of_damage_fails_verification(loaded, tmp_path, damage, message):
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(loaded.db_path.read_bytes())
    damage(damaged)
    with pytest.raises(CorruptDatabase, match=message):
        publication.verify(damaged)


def _patch(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


# ---------------------------------------------------------------- the case, through the CLI


def test_random_blocks_in_the_database_stop_the_next_cycle_and_restore_brings_everything_back(
    tmp_path, sample_web
):
    two = "\n\n".join(sample_feeds_toml(sample_web.base).strip().split("\n\n")[:2]) + "\n"
    settings = make_settings(tmp_path, two)
    first = run_cli(settings, "run")
    assert first.returncode == 0, first.stderr
    good = digest(settings.analyst_db)
    with duckdb.connect(str(settings.analyst_db), read_only=True) as con:
        loaded_first = con.execute("select count(*) from articles").fetchone()[0]
    for block in (blocks_of(settings.db_path) // 3, blocks_of(settings.db_path) // 2):
        scribble(settings.db_path, block)

    settings.feeds_path.write_text(sample_feeds_toml(sample_web.base), encoding="utf-8")  # 2 more outlets
    pages_before = len(sample_web.requests)
    second = run_cli(settings, "run")
    assert second.returncode == 3
    (line,) = second.stderr.strip().splitlines()
    assert "is damaged (checksum mismatch in block" in line and "python -m pipeline restore" in line
    assert len(sample_web.requests) == pages_before, "a damaged database stops the cycle before any download"
    assert digest(settings.analyst_db) == good  # the last good copy is intact

    # The README's recovery, as documented.
    restored = run_cli(settings, "restore")
    assert restored.returncode == 0, restored.stderr
    assert f"restored {settings.db_path} from {publication.snapshots(settings)[-1]}" in restored.stdout
    (kept,) = tmp_path.glob("vigia.duckdb.damaged-*")
    assert "kept as" in restored.stdout and str(kept) in restored.stdout
    third = run_cli(settings, "run")
    assert third.returncode == 0, third.stderr
    with duckdb.connect(str(settings.analyst_db), read_only=True) as con:
        assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (12, 12)
        assert con.execute("select count(*) from classifications").fetchone()[0] == 12
    assert loaded_first == 7


def test_damage_after_the_cycle_started_is_found_before_publication(loaded, monkeypatch):
    """Damage that appears after a cycle's start check (here: between the load and the
    publication, in a block the load did not read) never reaches the analyst copy."""
    good = digest(loaded.analyst_db)
    snapshots = publication.snapshots(loaded)
    real = publication.publish

    def damage_then_publish(settings, now=None):
        scribble(settings.db_path, blocks_of(settings.db_path) - 2)
        return real(settings, now)

    monkeypatch.setattr(publication, "publish", damage_then_publish)
    with (
        pytest.raises(CorruptDatabase, match="so it was not published: .* is still the last good copy"),
        store.writing(loaded),
    ):
        pass
    assert digest(loaded.analyst_db) == good and publication.snapshots(loaded) == snapshots
    assert not list(loaded.analyst_db.parent.glob(".*.tmp")), "the rejected copy is removed"


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(os.urandom(2 * BLOCK + 77)),
        lambda p: os.truncate(p, p.stat().st_size // 2 + 99),
        lambda p: _patch(p, 4096 + 64, os.urandom(64)),
    ],
    ids=["garbage", "truncated", "header"],
)
def test_any_damaged_database_is_exit_3_with_one_line_and_the_analyst_copy_intact(loaded, damage):
    good = digest(loaded.analyst_db)
    damage(loaded.db_path)
    for command in (["run"], ["init"], ["label", "x", "relevant"], ["sql", "--write", "-c", "select 1"]):
        result = run_cli(loaded, *command)
        assert result.returncode == 3, (command, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("database error: ") and "damaged" in line, line
    assert digest(loaded.analyst_db) == good
    assert run_cli(loaded, "sql", "-c", "select count(*) from articles").returncode == 0  # analysts read on


# ---------------------------------------------------------------- snapshots and restore


def test_publications_keep_the_last_n_as_dated_hard_links_never_writable(loaded):
    settings = replace(loaded, snapshots=2)
    for _ in range(3):
        with store.writing(settings):
            pass
    snaps = publication.snapshots(settings)
    assert len(snaps) == 2 and snaps == sorted(snaps, reverse=True)
    newest = snaps[0]
    assert os.path.samefile(newest, settings.analyst_db)  # a hard link: no bytes copied
    assert settings.analyst_db.stat().st_mode & 0o777 == 0o444
    assert publication.snapshot_time(newest) > publication.snapshot_time(snaps[1])
    for snap in snaps:
        publication.verify(snap)
    with store.writing(replace(settings, snapshots=0)):
        pass
    assert publication.snapshots(settings) == []


def test_restore_picks_a_named_snapshot_and_refuses_a_damaged_one(loaded):
    with store.writing(loaded) as con:
        con.execute("delete from labels")  # a second publication
    older, newer = publication.snapshots(loaded)[1], publication.snapshots(loaded)[0]
    result = run_cli(loaded, "restore", "--list")
    assert result.stdout.splitlines()[:2] == [str(newer), str(older)]
    # A damaged snapshot (say, a disk error since) is refused, naming the others.
    os.chmod(newer, 0o644)
    scribble(newer, 2)
    failed = run_cli(loaded, "restore")
    assert failed.returncode == 3
    (line,) = failed.stderr.strip().splitlines()
    assert "is damaged" in line and str(older) in line and "--from" in line
    ok = run_cli(loaded, "restore", "--from", str(older))
    assert ok.returncode == 0, ok.stderr
    publication.verify(loaded.db_path)


def test_a_missing_or_emptied_database_is_not_replaced_by_an_empty_one(loaded):
    good = digest(loaded.analyst_db)
    for make in (lambda p: p.unlink(), lambda p: p.write_bytes(b"")):
        make(loaded.db_path)
        result = run_cli(loaded, "run")
        assert result.returncode == 3
        (line,) = result.stderr.strip().splitlines()
        assert "holds its last published copy" in line and "python -m pipeline restore" in line
        assert digest(loaded.analyst_db) == good
    assert run_cli(loaded, "restore").returncode == 0
    assert run_cli(loaded, "run").returncode == 0


def test_an_existing_file_that_is_not_duckdb_is_never_overwritten_by_the_analyst_copy(sample_settings):
    notes = sample_settings.db_path.parent / "notes.txt"
    notes.write_text("an analyst's notes\n")
    result = run_cli(sample_settings, "run", env={"VIGIA_ANALYST_DB": str(notes)})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "is not a DuckDB database; refusing to overwrite it" in line
    assert notes.read_text() == "an analyst's notes\n"
    with pytest.raises(ConfigError, match="is the database itself"):
        store.backend(replace(sample_settings, analyst_db_path=sample_settings.db_path)).check_paths()


# ---------------------------------------------------------------- leftovers of killed runs

PUBLISH_THEN_HANG = """
import sys, time
from pipeline.store import publication
real = publication.verify
def verify_then_hang(path, **options):
    scan = real(path, **options)
    print("verified", path, flush=True)
    time.sleep(600)
    return scan
publication.verify = verify_then_hang
from pipeline.cli import main
sys.argv = ["pipeline", "init"]
sys.exit(main())
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_publication_killed_midway_leaves_the_analyst_copy_and_no_temporary_copy(loaded, how):
    good = digest(loaded.analyst_db)
    env = dict(os.environ, VIGIA_DB=str(loaded.db_path), PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_THEN_HANG], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline().split()
        assert line[0] == "verified"
        tmp = loaded.analyst_db.parent / os.path.basename(line[1])
        assert tmp.exists() and tmp.stat().st_size == loaded.db_path.stat().st_size
    finally:
        child.send_signal(how)
        code = child.wait(timeout=60)
        child.stdout.close()
    assert digest(loaded.analyst_db) == good
    if how == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM
        assert not tmp.exists(), "SIGTERM unwinds: the temporary copy is removed on the way out"
    else:
        assert tmp.exists()  # nothing runs after kill -9 ...
        with store.writing(loaded):  # ... so the next writer's start sweeps it
            pass
        assert not tmp.exists()
    assert not list(loaded.analyst_db.parent.glob(".*.tmp*"))


def test_publication_on_a_full_disk_fails_clearly_and_removes_its_copy(loaded, monkeypatch):
    import errno
    import shutil

    good = digest(loaded.analyst_db)

    def full(src, dst):
        with open(dst, "wb") as fh:
            fh.write(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(shutil, "copyfile", full)
    with (
        pytest.raises(StoreError, match="could not publish the analyst copy .*No space left on device"),
        store.writing(loaded),
    ):
        pass
    assert digest(loaded.analyst_db) == good
    assert not list(loaded.analyst_db.parent.glob(".*.tmp*"))


# ---------------------------------------------------------------- under Airflow: a failed task, an email


def test_under_airflow_a_damaged_database_fails_the_run_and_mails_the_failure(
    airflow_db, vigia_env, mail, tmp_path, sample_web, monkeypatch
):
    from tests.test_dags import dagbag

    (tmp_path / "feeds.toml").write_text(sample_feeds_toml(sample_web.base))
    monkeypatch.setenv("VIGIA_POLL_MAX_MINUTES", "0")  # every run polls every feed and loads
    dag = dagbag().get_dag("vigia_ingest")
    assert dag.test().state == "success"
    analyst = vigia_env.with_name("vigia.analyst.duckdb")
    good = digest(analyst)

    # Damage appearing during the load (after plan's check): the load task fails at publication.
    real = publication.publish

    def damage_then_publish(settings, now=None):
        scribble(settings.db_path, blocks_of(settings.db_path) // 2)
        return real(settings, now)

    monkeypatch.setattr(publication, "publish", damage_then_publish)
    assert dag.test().state == "failed"
    monkeypatch.setattr(publication, "publish", real)
    (load_failed,) = mail.messages
    assert load_failed.message["Subject"] == "Vigía: task vigia_ingest.load failed (try 1)"
    html = load_failed.part("text/html").get_content()
    assert "CorruptDatabase" in html and "so it was not published" in html

    # The next run stops at plan, before downloading anything, and mails again.
    requests = len(sample_web.requests)
    assert dag.test().state == "failed"
    assert mail.messages[1].message["Subject"] == "Vigía: task vigia_ingest.plan failed (try 1)"
    assert "checksum mismatch in block" in mail.messages[1].part("text/html").get_content()
    assert len(sample_web.requests) == requests
    assert digest(analyst) == good
