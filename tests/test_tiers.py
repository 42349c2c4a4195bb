"""The test tiers and CI's entry point: `make test` is the whole suite on every core, `make
test-fast` the marked tiers left out, and `.ci/run` fails when no test ran."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import REPO

PYTEST_CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
    "ini_options"
]


def dry_run(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_test_is_the_whole_suite_on_every_core():
    (command,) = [line for line in dry_run("test").splitlines() if "pytest" in line]
    workers = re.search(r"-m pytest -n ([0-9]+) --dist loadgroup$", command)  # no -m, no -k: every test
    assert workers, command
    assert int(workers.group(1)) == len(os.sched_getaffinity(0)) + 1  # one more than cores (Makefile)


def test_make_test_fast_leaves_out_exactly_the_registered_slow_markers():
    (command,) = [line for line in dry_run("test-fast").splitlines() if "pytest" in line]
    expression = re.search(r'-m "not \(([^)]*)\)"', command)
    assert expression, command
    left_out = set(expression.group(1).split(" or "))
    registered = {m.split(":")[0] for m in PYTEST_CONFIG["markers"]}
    assert left_out == registered == {"e2e", "airflow", "integration", "corpus"}


def test_warnings_are_errors_with_a_short_commented_allow_list():
    filters = PYTEST_CONFIG["filterwarnings"]
    assert filters[0] == "error" and len(filters) <= 4
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for allowed in filters[1:]:
        before = text.split(f'"{allowed}"')[0].rstrip().splitlines()[-1].strip()
        assert before.startswith("#"), f"{allowed}: say why it is allowed"


@pytest.mark.parametrize(
    ("pytest_exit", "ci_exit"),
    [(0, 0), (1, 1), (5, 5)],  # 5: pytest collected no test
    ids=["passed", "failed", "no-tests"],
)
def test_ci_run_passes_only_when_tests_ran_and_passed(tmp_path, pytest_exit, ci_exit):
    """.ci/run as CI runs it, with `make test` standing for a pytest that exits so."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts").mkdir()
    for script in ("ci_postgres.sh", "ci_chromium.sh", "ci_redis.sh"):
        (tmp_path / "scripts" / script).write_text("exit 0\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(f'#!/bin/sh\n[ "$1" = test ] || exit 99\nexit {pytest_exit}\n')
    make.chmod(make.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == ci_exit, done.stdout + done.stderr
    if pytest_exit == 5:
        assert "collected no tests" in done.stderr


@pytest.mark.integration  # two Python processes importing the test setup
@pytest.mark.parametrize(("profile", "examples"), [(None, 150), ("deep", 1500)])
def test_the_fuzz_tests_are_sized_for_ci_and_a_deep_profile_is_selectable(profile, examples):
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    if profile:
        env["HYPOTHESIS_PROFILE"] = profile
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tests.conftest, hypothesis; print(hypothesis.settings.default.max_examples)",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == examples
