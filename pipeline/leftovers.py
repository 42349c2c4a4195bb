"""Temporary files Vigía writes outside its database, and sweeping those a killed run left.

Every exit path that Python sees (an exception, Ctrl-C, SIGTERM: see ``pipeline.cli``) removes
them in ``finally`` blocks; ``kill -9`` or a power cut cannot, so a later start sweeps them. A
name carries the id of the process that wrote it (``vigia-model-<pid>-<random>.pickle``): a
start removes only the files of processes that are gone, never those of a run still going.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_PREFIX, MODEL_SUFFIX = "vigia-model-", ".pickle"
_WITH_PID = re.compile(r"^(\d+)-")
# A model file without a process id (written before names carried one) is old after a day: no
# collect runs that long (its Airflow task times out after 10 minutes).
UNOWNED_MAX_AGE = 24 * 3600.0


def new_model_file() -> tuple[int, str]:
    """``mkstemp`` (mode 0600) for the pickled model the extraction workers load."""
    return tempfile.mkstemp(prefix=f"{MODEL_PREFIX}{os.getpid()}-", suffix=MODEL_SUFFIX)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_model_files(directory: Path | None = None) -> list[Path]:
    """Remove model pickles whose writer is gone (or, without a process id in the name, day-old ones)."""
    directory = Path(directory or tempfile.gettempdir())
    removed = []
    now = time.time()
    for path in directory.glob(f"{MODEL_PREFIX}*{MODEL_SUFFIX}"):
        owner = _WITH_PID.match(path.name[len(MODEL_PREFIX) :])
        try:
            if owner is not None:
                if int(owner.group(1)) == os.getpid() or pid_alive(int(owner.group(1))):
                    continue
            elif now - path.stat().st_mtime < UNOWNED_MAX_AGE:
                continue
            path.unlink()
        except OSError:  # gone meanwhile, or another user's file in a shared /tmp
            continue
        removed.append(path)
    if removed:
        log.info("removed %d model file(s) left by killed runs", len(removed))
    return removed


def remove_quietly(path: Path | str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
