"""Shared fixtures: a local web of sample news sites, settings pointing at temporary files,
and Airflow configured (before anything imports it) to use a throw-away home and ``dags/``."""

from __future__ import annotations

import atexit
import fcntl
import functools
import gc
import inspect
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hypothesis
import pytest

REPO = Path(__file__).resolve().parent.parent

# One BLAS thread a process (numpy's OpenBLAS; set before numpy loads it, and inherited by every
# process a test starts): the suite runs a process per core and more, and OpenBLAS's threads spin
# waiting for work on the busy cores. A base-model fit took 5.8 s of CPU with them, 1.5 s without.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The suite's temporary directories (``tmp_path``) in memory, where the machine has a tmpfs with room:
# a run writes gigabytes into them (DuckDB files, their snapshots and analyst copies, rewritten at
# every checkpoint and publication), and on a disk those writes and their fsyncs cost CPU the suite
# is short of. ``PYTEST_DEBUG_TEMPROOT`` is pytest's own setting for where they go: one set by the
# caller wins. With ``tmp_path_retention_policy = "failed"`` (pyproject.toml) a passing test's
# directory is removed as it ends, so the tmpfs holds the running tests' and the failed ones'.
TMPFS = "/dev/shm"
TMPFS_ROOM = 4 << 30  # bytes free; a run of the whole suite used at most 572 MB there


def _tmpfs_with_room(path: str, needed: int) -> bool:
    """Whether ``path`` can hold the tests' files: writable, with room, and not mounted ``noexec``
    (as containers mount /dev/shm): some tests run a script they write there."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    if st.f_flag & (os.ST_NOEXEC | os.ST_RDONLY):
        return False
    return st.f_bavail * st.f_frsize >= needed and os.access(path, os.W_OK | os.X_OK)


if "PYTEST_DEBUG_TEMPROOT" not in os.environ and _tmpfs_with_room(TMPFS, TMPFS_ROOM):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = TMPFS

# Airflow reads its configuration when first imported: set it before any test imports it. Its home
# (the metadata database dag.test() writes) sits with the temporary directories, and goes with the
# process: each test process has its own.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="vigia-airflow-", dir=os.environ.get("PYTEST_DEBUG_TEMPROOT"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    AIRFLOW_HOME=_AIRFLOW_HOME,
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
)
# Tests never take settings from the developer's shell.
for _name in [k for k in os.environ if k.startswith("VIGIA_")]:
    del os.environ[_name]
# One DuckDB thread a database, for the reason OpenBLAS has one above (VIGIA_DB_THREADS; inherited
# by the processes a test starts, except the end-to-end deployments, which run on the defaults): the
# suite's workers already keep the cores busy, and DuckDB's own threads cost CPU handing small
# queries around. Two test modules of small loads took 23.4 s of CPU with a thread per core, 20.4 s
# with one.
os.environ["VIGIA_DB_THREADS"] = "1"

# Hypothesis (tests/test_fuzz.py): ``ci``, the default, is sized for every run of the suite;
# HYPOTHESIS_PROFILE=deep (or --hypothesis-profile=deep) tries ten times as many examples.
hypothesis.settings.register_profile("ci", max_examples=150, deadline=None)
hypothesis.settings.register_profile("deep", max_examples=1500, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from pipeline.settings import Settings  # noqa: E402
from tests.localweb import LocalWeb, sample_feeds_toml, sample_site  # noqa: E402

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture(scope="session")
def _session_web():
    """One server of the sample outlets for the session (per xdist worker), with the routes it had
    at the start: a database loaded from it (``loaded_settings``) stays in step with what it serves."""
    with LocalWeb() as web:
        routes = sample_site(web.base)
        web.routes.update(routes)
        yield web, routes


@pytest.fixture
def sample_web(_session_web):
    """The repository's sample outlets served on 127.0.0.1: the session's server, its routes and
    its record of requests reset for each test (a test may replace routes; none outlives it)."""
    return _as_served_at_the_start(*_session_web)


def _as_served_at_the_start(web: LocalWeb, routes: dict) -> LocalWeb:
    with web._lock:
        web.routes.clear()
        web.routes.update(routes)
        web.requests.clear()
    return web


def make_settings(tmp_path: Path, feeds_toml: str, **overrides) -> Settings:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(feeds_toml, encoding="utf-8")
    values = dict(
        feeds_path=feeds,
        db_path=tmp_path / "vigia.duckdb",
        allow_networks=LOOPBACK,
        workers=2,
        db_lock_timeout=10.0,
        db_threads=1,  # as the environment above says
    )
    values.update(overrides)
    settings = Settings.from_env(env={}, **values)
    warm_model_cache(settings.db_path.parent)
    return settings


def warm_model_cache(directory: Path) -> None:
    """A warm cache beside a database in ``directory``, as every cycle after a deployment's first has:
    the base model's params and the places lexicon are read (0.2 s) rather than built (7 s of CPU a
    process, 0.7 s a worker). The end-to-end tests start cold, as a new deployment does."""
    if _CACHE_ROOT and not (directory / "cache").exists():
        # Hard links: the cache holds language identification's unpacked model (66 MB), and what
        # writes a cache file replaces it (a rename) rather than writing into it.
        shutil.copytree(model_cache(), directory / "cache", copy_function=os.link)


_CACHE_ROOT: list[Path] = []  # where the run's model cache is built: set for the session below


@pytest.fixture(scope="session", autouse=True)
def _model_cache_root(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the directory the xdist workers share
    _CACHE_ROOT.append(root)
    yield
    _CACHE_ROOT.clear()


def model_cache() -> Path:
    """The base model's cache directory, built once for the whole run (the first test that needs it
    builds it, under a lock the xdist workers share) in a fresh process: this one may already hold
    a model built without a cache, which would then never be written."""
    root = _CACHE_ROOT[0]
    with open(root / "model-cache.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "model-cache" / "complete").exists():
            shutil.rmtree(root / "model-cache", ignore_errors=True)
            subprocess.run(
                [sys.executable, "-c", _BUILD_CACHE, str(root / "model-cache" / "cache")],
                check=True,
                cwd=REPO,
                timeout=300,
            )
            (root / "model-cache" / "complete").touch()
    return root / "model-cache" / "cache"


@pytest.fixture(scope="session", autouse=True)
def _base_model_from_the_run_cache(_model_cache_root):
    """A test process reads the base model from the run's cache (built once, in a fresh process, for
    every xdist worker) rather than fitting it again: 7 s of CPU each time. tests/test_classify_model.py
    puts the real builder back where building is what it tests."""
    from pipeline.classify import versions

    real = versions._build_base_model
    versions._build_base_model = shared_base_model
    yield
    versions._build_base_model = real


def shared_base_model():
    """The base model as the run's cache holds it (fitted by ``_build_base_model`` in another process)."""
    from pipeline.classify import versions

    path = model_cache() / f"base-model-{versions.base_inputs_digest()}.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    return versions.Model(stored["params"], stored["version"])


_BUILD_CACHE = """
import sys
from pathlib import Path
from pipeline.classify import language, lexicon
from pipeline.classify.versions import base_model
base_model(Path(sys.argv[1]))
lexicon.lexicon()
language.identify("", "una prueba")  # unpacks the language model into the cache
"""


@pytest.fixture
def sample_settings(tmp_path, sample_web) -> Settings:
    """Settings for a cycle over the sample web, into a database under tmp_path."""
    return make_settings(tmp_path, sample_feeds_toml(sample_web.base))


@pytest.fixture(scope="session")
def _loaded_sample(tmp_path_factory, _session_web) -> Path:
    """One cycle over the session's sample web, run once: the directory it left."""
    from pipeline import tasks as ingest

    # A session fixture is set up before the function ones, ``sample_web``'s reset included: the
    # routes may still be those the previous test changed (a feed answering 500).
    web = _as_served_at_the_start(*_session_web)
    directory = tmp_path_factory.mktemp("loaded-sample")
    ingest.run_once(make_settings(directory, sample_feeds_toml(web.base)))
    return directory


@pytest.fixture
def loaded_settings(sample_settings, _loaded_sample) -> Settings:
    """``sample_settings`` after one committed, published cycle of the sample web: the session's
    cycle copied (database, analyst copy, snapshots, cache) rather than run again."""
    copy_tree(_loaded_sample, sample_settings.db_path.parent, skip={"feeds.toml"})
    return sample_settings


def copy_tree(source: Path, target: Path, skip: set[str] = frozenset()) -> None:
    """Copy the files under ``source`` into ``target``, keeping which of them are hard links of
    each other (a snapshot and the analyst copy are one file) and their modes (read-only copies);
    the model cache's files are linked, as ``warm_model_cache`` links them."""
    copied: dict[tuple[int, int], Path] = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if relative.parts[0] in skip or path.is_dir() or path.suffix == ".lock":
            continue
        to = target / relative
        to.parent.mkdir(parents=True, exist_ok=True)
        to.unlink(missing_ok=True)
        stat = path.stat()
        key = (stat.st_dev, stat.st_ino)
        if stat.st_nlink > 1 and key in copied:
            os.link(copied[key], to)
            continue
        if relative.parts[0] == "cache":  # as in warm_model_cache
            os.link(path, to)
            continue
        shutil.copy2(path, to)
        copied[key] = to


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite under a temporary AIRFLOW_HOME), created once."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


def run_cli(settings: Settings, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    """``python -m pipeline <args>`` in a subprocess, as an operator runs it, on ``settings``' files."""
    full_env = {
        **os.environ,
        "VIGIA_FEEDS": str(settings.feeds_path),
        "VIGIA_DB": str(settings.db_path),
        "VIGIA_ALLOW_NETWORKS": "127.0.0.1/32",
        "VIGIA_WORKERS": "2",
        "PYTHONPATH": str(REPO),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=settings.db_path.parent,
    )


# Fixtures that make a test part of a slow tier (README, "Tests in tiers"), whatever its module.
_TIER_OF_FIXTURE = {
    "airflow_db": "airflow",
    "sample_settings": "integration",
    "loaded_settings": "integration",
    "postgres": "integration",
}

# Modules whose every test runs whole cycles, CLI processes, worker pools or model builds.
_INTEGRATION_MODULES = {
    "test_backlog",
    "test_bench",
    "test_bench_modes",
    "test_classify_cli",
    "test_classify_model",
    "test_collect_process",
    "test_cycle",
    "test_dags",
    "test_exit_codes",
    "test_leftovers",
    "test_one_writer",
    "test_publication",
}

# What a test (or a fixture of tests/ it uses) calls that takes seconds, not milliseconds: a
# subprocess or the CLI, a whole cycle, a worker pool, a model build or retrain, dag.test(), a browser.
_SLOW_CALL = re.compile(
    r"\brun_cli\(|\bsubprocess\.|\bPopen\b|\brun_once\(|\brun_cycle\(|\bcollect\(|\bload_staged\("
    r"|\bWorkerPool\b|\bretrain|\bbase_model\(|\bmodel_cache\(|\.test\(|playwright|chromium"
    r"|\bcross_validate\(|\bproject_documents\(|\bload_model\(|\breclassify\b|\bqueue_alerts\("
)


@functools.cache
def _source_is_slow(function) -> bool:
    try:
        return bool(_SLOW_CALL.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def _runs_something_slow(item) -> bool:
    functions = [getattr(item, "function", None)]
    fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    for definitions in fixtures.values():
        functions += [d.func for d in definitions if getattr(d.func, "__module__", "").startswith("tests")]
    return any(f is not None and _source_is_slow(f) for f in functions)


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in set(_TIER_OF_FIXTURE) & set(getattr(item, "fixturenames", ())):
            item.add_marker(_TIER_OF_FIXTURE[fixture])
        if item.module.__name__.rpartition(".")[2] in _INTEGRATION_MODULES or _runs_something_slow(item):
            item.add_marker("integration")
        if item.get_closest_marker("airflow") and not item.nodeid.startswith(AIRFLOW_IN_PROCESS):
            raise pytest.UsageError(
                f"{item.nodeid} runs Airflow in its process: add it to AIRFLOW_IN_PROCESS"
            )
    # xdist hands out work in this order. The end-to-end tests first: their minutes then run beside
    # the rest of the suite, on two workers at once, instead of after it. The unit tier last: its
    # milliseconds even out the workers' ends, where a test of seconds would leave the others idle.
    items.sort(key=_order)


# The tests that run Airflow in the test process (the ``airflow`` tier), by node id, since xdist's
# scheduler sees only ids; collection refuses an ``airflow`` test missing here. ``make test`` gives
# them to one worker: a process's first dag.test() builds Airflow's in-process execution API (4 s of
# CPU), then paid once instead of by every worker. (xdist's own groups never form under pytest 9.2:
# xdist 3.8 renames a node's old ``_nodeid``, and pytest now keeps the id elsewhere.)
AIRFLOW_IN_PROCESS = (
    "tests/test_alerts_dags.py::",
    "tests/test_dags.py::",
    "tests/test_publication.py::test_under_airflow_",
    "tests/test_collect_process.py::test_a_collect_that_fails_fails_its_task_and_mails_it",
)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Once a test's fixtures are torn down: collect what it left, then freeze what survives.

    A worker's heap grows to as many as 950,000 objects (Airflow imported in the process, the
    model, the lexicons), and the collector's full passes walked all of them again and again: 10 s
    of CPU in a run of the suite, 3.4 s with this. Frozen objects are left out of every later pass.
    Collecting first keeps a test's own garbage (and the ResourceWarning of a pipe it leaked) found
    at its end, not in a later test (``dagbag`` in test_dags.py collects before a DagBag for that).
    """
    gc.collect()
    gc.freeze()


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class AirflowOnOneWorker(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(AIRFLOW_IN_PROCESS):
                return "airflow-in-process"
            return super()._split_scope(nodeid)

    return AirflowOnOneWorker(config, log)


def _order(item) -> int:
    if item.get_closest_marker("e2e"):
        return 0
    return 1 if any(item.get_closest_marker(m) for m in ("airflow", "integration", "corpus")) else 2
