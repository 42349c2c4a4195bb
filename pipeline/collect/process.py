"""The collect stage in a process of our own: what an Airflow ``collect`` task runs.

An Airflow task runs ``run_collect(jobs_file, run_id, index)``, which starts

    python -m pipeline -v collect --jobs FILE --run-id RUN --index N

and waits for it: its log lines are relayed into the task's log as they come, its last line of
output is the staged batch's directory, and any exit but 0 raises ``CollectFailed`` with the lines
that explain it, so Airflow retries the task and mails its failure.

Why a child process, rather than the worker pool inside the task process: multiprocessing starts
every worker (forkserver, and each replacement after ``VIGIA_WORKER_MAX_TASKS``) with the
"preparation data" of the process that asks, and when that process's ``__main__`` has no module
spec, the data says "re-run this file first". In a task that file is whatever launched Airflow
(``.venv/bin/airflow`` under ``airflow standalone``, the scheduler's LocalExecutor or a Celery
worker), and importing Airflow runs ``settings.initialize()``, which fails in a task (no metadata
database): every worker died at start and every feed was recorded as a parse error. Here
``__main__`` is ``pipeline.__main__``, which multiprocessing never re-runs; the child is a plain
process (never a daemonic one, so it may have children under Celery's pool too); its environment
has no Airflow variable, so nothing in it can reach Airflow's settings, database or secrets; and
its memory is returned when the batch ends. The other way, a multiprocessing context whose children
ignore ``__main__``, means overriding CPython's private launch step (``spawn.get_preparation_data``
as ``popen_forkserver.Popen._launch`` uses it), which changes between Python versions, and keeps the
pool inside Airflow's task process under every executor.

The cost, measured on an empty batch (interpreter start, imports, staging; three runs each, load
average 1.2 on 2 cores): 1.00-1.08 s through the child, 0.90-0.97 s in the calling process, so about
0.1 s a batch, because the task process no longer imports the pipeline's heavy libraries itself.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO

from pipeline.errors import CollectFailed

log = logging.getLogger(__name__)

# Lines of the child's log kept for the exception when it fails.
TAIL_LINES = 40
# How long a child asked to stop (the task was killed or timed out) may take before it is killed.
STOP_GRACE_SECONDS = 15.0
# How long the child's last lines may take to arrive once it has exited.
READ_GRACE_SECONDS = 10.0
# How often a process checks that the one that started it is still there (``_parent_gone``): the
# child its task, the task its supervisor.
PARENT_CHECK_SECONDS = 1.0
# The child's log lines, as pipeline.cli formats them: "2025-01-01 00:00:00,000 LEVEL logger: message".
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_LEVELS["CRITICAL"] = logging.CRITICAL
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$")


def child_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the task's, without any of Airflow's (its database, connections and
    their secrets, the execution API's token), and with the ``pipeline`` package importable."""
    env = {
        k: v
        for k, v in (os.environ if environ is None else environ).items()
        if not k.upper().startswith(("AIRFLOW", "_AIRFLOW"))
    }
    package_root = str(Path(__file__).resolve().parents[2])  # the directory that holds pipeline/
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([package_root, *[p for p in paths if p != package_root]])
    return env


def collect_command(jobs_file: str, run_id: str, index: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "-v",
        "collect",
        "--jobs",
        str(jobs_file),
        "--run-id",
        run_id,
        "--index",
        str(index),
    ]


def run_collect(jobs_file: str, run_id: str, index: int) -> str:
    """Collect one batch in a child process (see the module's docstring); returns the staged directory.

    Raises CollectFailed when the child fails. When the task itself is stopped (Airflow's timeout or
    a kill raises in this thread), the child is asked to stop, then killed, before that propagates;
    and so when the process that started the task is gone (``_stop_when_orphaned``).
    """
    supervisor = os.getppid()
    proc = subprocess.Popen(
        collect_command(jobs_file, run_id, index),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    output: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_relay_log, args=(proc.stderr, tail), name="vigia-collect-log", daemon=True),
        threading.Thread(target=_read_all, args=(proc.stdout, output), name="vigia-collect-out", daemon=True),
    ]
    for reader in readers:
        reader.start()
    finished, orphaned = threading.Event(), threading.Event()
    threading.Thread(
        target=_stop_when_orphaned,
        args=(proc, supervisor, finished, orphaned),
        name="vigia-collect-supervisor-watch",
        daemon=True,
    ).start()
    try:
        code = proc.wait()
    finally:
        finished.set()
        if proc.poll() is None:
            _stop(proc)
    # The pipes end when the last holder closes them: the child's fork server and workers inherit
    # them too, so the wait for their last lines is bounded.
    for reader in readers:
        reader.join(READ_GRACE_SECONDS)
    if orphaned.is_set():
        raise CollectFailed(
            f"collecting batch {index} stopped: the process that started this task ({supervisor}) is gone"
        )
    if code != 0:
        detail = "\n".join(tail) or "(no output)"
        raise CollectFailed(f"collecting batch {index} failed (exit status {code}):\n{detail}")
    lines = [line for line in b"".join(output).decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        raise CollectFailed(f"collecting batch {index} printed no staged directory")
    return lines[-1].strip()


def _stop_when_orphaned(
    proc: subprocess.Popen, supervisor: int, finished: threading.Event, orphaned: threading.Event
) -> None:
    """Stop the child once the process that started this task is gone.

    Airflow runs a task in a process group of its own, under a supervisor that reports its result.
    Stop the supervisor without it signalling that group (``make run``'s Ctrl-C stops ``airflow
    standalone``; a worker is killed) and the task outlives it, waiting on this child, which goes on
    downloading for nobody: a minute or more with slow pages. Its parent's pid changing says so.
    Signals only: the task's own thread is the one waiting for the child.
    """
    if _parent_gone(supervisor, finished):
        orphaned.set()
        log.warning("the task's supervisor (process %d) is gone: stopping the collect child", supervisor)
        proc.terminate()
        if not finished.wait(STOP_GRACE_SECONDS):
            proc.kill()


def _parent_gone(parent: int, finished: threading.Event | None = None) -> bool:
    """Wait until this process's parent is no longer ``parent`` (it died: the process was handed to
    another), checking every PARENT_CHECK_SECONDS; False if ``finished`` is set first."""
    finished = finished or threading.Event()
    while os.getppid() == parent:
        if finished.wait(PARENT_CHECK_SECONDS):
            return False
    return True


def _read_all(stream: IO[bytes], into: list[bytes]) -> None:
    # Each reader closes its pipe at the end: the task runs in a long-lived process (dag.test(),
    # a worker), where a pipe left to the garbage collector is a leaked descriptor every batch.
    with stream:
        into.extend(stream)


def _relay_log(stream: IO[bytes], tail: deque[str]) -> None:
    """Copy the child's log lines into this process's log (the task's log), keeping the last ones."""
    level = logging.INFO
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            match = _LOG_LINE.match(line)
            if match:
                level, line = _LEVELS[match.group(1)], match.group(2)
            # A traceback's lines keep the level of the record they belong to.
            log.log(level, "%s", line)
            tail.append(line)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- the child: `python -m pipeline collect`


def stop_with_parent() -> None:
    """Stop cleanly on SIGTERM, and when the process that started us is gone.

    SIGTERM becomes SystemExit in the main thread, so the worker pool is closed on the way out. A
    parent killed outright (SIGKILL, which leaves it no time to stop us) makes us an orphan: a thread
    notices our parent changed and sends us SIGTERM.
    """

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()

    def watch() -> None:
        if _parent_gone(parent):
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="vigia-parent-watch", daemon=True).start()
