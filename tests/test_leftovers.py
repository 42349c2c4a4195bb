"""Leftovers: the workers' model file goes away on every exit path Python sees, and the next start
sweeps the one a ``kill -9`` left, never one a live run still uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline import leftovers
from tests.conftest import REPO, run_cli

# A cycle that stops once the workers' model file exists, as if a page took forever.
HANG_IN_COLLECT = """
import asyncio, sys
from pipeline.extract import workers
workers.CLASSIFY_IN_WORKERS_FROM = 1  # the sample web's 12 pages, classified in the workers
async def extract(self, *args, **kwargs):
    print("model", await self._model(), flush=True)
    await asyncio.sleep(600)
workers.WorkerPool.extract = extract
from pipeline.cli import main
sys.argv = ["pipeline", "run"]
sys.exit(main())
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_model_file_of_a_killed_cycle_is_removed(sample_settings, how):
    # A short TMPDIR: the worker pool's fork server binds a Unix socket under it, and a path past
    # 107 bytes cannot be bound (under xdist, tmp_path is long enough: "AF_UNIX path too long").
    with tempfile.TemporaryDirectory(prefix="vigia-") as short:
        _kill_a_cycle_then_run_one(sample_settings, Path(short), how)


def _kill_a_cycle_then_run_one(sample_settings, tmp, how):
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "VIGIA_FEEDS": str(sample_settings.feeds_path),
        "VIGIA_DB": str(sample_settings.db_path),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        "PYTHONPATH": str(REPO),
    }
    cycle = subprocess.Popen(
        [sys.executable, "-c", HANG_IN_COLLECT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        word, path = cycle.stdout.readline().split()
        assert word == "model" and os.path.dirname(path) == str(tmp)
        assert os.path.basename(path).startswith(f"vigia-model-{cycle.pid}-")
    finally:
        cycle.send_signal(how)
        code = cycle.wait(timeout=180)  # a bound, not a speed: SIGTERM unwinds the pool, slow under load
        cycle.stdout.close()
    if how == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM
        assert not os.path.exists(path), "SIGTERM unwinds through the worker pool, which removes it"
    else:
        assert os.path.exists(path)
    # The next cycle starts (the dead one's locks died with it), sweeps the file and completes.
    again = run_cli(sample_settings, "run", env={"TMPDIR": str(tmp)})
    assert again.returncode == 0, again.stderr
    assert "articles 12 new" in again.stdout
    assert list(tmp.glob("vigia-model-*")) == []


def test_a_temporary_directory_too_deep_for_the_pool_fails_the_cycle_saying_why(sample_settings, tmp_path):
    """The fork server's Unix socket cannot be bound under it: our failure, with its cause."""
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    result = run_cli(sample_settings, "run", env={"TMPDIR": str(deep)})
    assert result.returncode != 0
    assert "the worker pool cannot run feed parsing: OSError: AF_UNIX path too long" in result.stderr


def test_a_sweep_removes_only_files_of_processes_that_are_gone(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = tmp_path / f"vigia-model-{dead.stdout.strip()}-abc.pickle"
    live = tmp_path / f"vigia-model-{os.getppid()}-def.pickle"  # our parent: alive
    mine = tmp_path / f"vigia-model-{os.getpid()}-ghi.pickle"
    old_unowned, new_unowned = tmp_path / "vigia-model-xyz.pickle", tmp_path / "vigia-model-uvw.pickle"
    other = tmp_path / "someone-else.pickle"
    for path in (gone, live, mine, old_unowned, new_unowned, other):
        path.write_bytes(b"x")
    day_ago = time.time() - leftovers.UNOWNED_MAX_AGE - 60
    os.utime(old_unowned, (day_ago, day_ago))
    assert sorted(leftovers.sweep_model_files(tmp_path)) == sorted([gone, old_unowned])
    assert all(p.exists() for p in (live, mine, new_unowned, other))
