"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the Compose schema, the
paths they mount and copy, the settings they pass, and the image's requirements against uv.lock."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from pipeline.settings import Settings
from tests.conftest import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
SCHEMA = REPO.parent / "shared" / "schemas" / "compose-spec.json"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
AIRFLOW_SERVICES = [name for name in SERVICES if name.startswith("airflow-")]
LONG_RUNNING = [name for name in SERVICES if name not in ("airflow-init", "vigia-sql")]

# Settings reads VIGIA_<FIELD> for every field, and these short names (pipeline/settings.py).
SHORT_NAMES = {"VIGIA_FEEDS", "VIGIA_DB", "VIGIA_ANALYST_DB", "VIGIA_STAGING"}
SETTINGS_VARIABLES = {f"VIGIA_{f.name.upper()}" for f in dataclasses.fields(Settings)} | SHORT_NAMES

_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: object, variables: dict[str, str] | None = None) -> str:
    """A value as Compose would pass it with these variables set (the file's defaults otherwise)."""
    variables = variables or {}

    def one(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if name in variables:
            return variables[name]
        return default if op in (":-", "-") else ""

    return _INTERPOLATION.sub(one, str(value)).replace("$$", "$")


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def dockerfile_env() -> dict[str, str]:
    env = {}
    for block in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", DOCKERFILE, re.M):
        for name, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[name] = value
    return env


def container_env(service: str, variables: dict[str, str] | None = None) -> dict[str, str]:
    """What a service's processes see: the image's ENV, then the compose environment."""
    env = dockerfile_env()
    env.update({k: interpolate(v, variables) for k, v in environment(SERVICES[service]).items()})
    return env


# ---------------------------------------------------------------- the file itself


@pytest.mark.corpus
def test_compose_file_follows_the_compose_specification():
    if not SCHEMA.exists():
        pytest.skip(f"the Compose JSON schema is not at {SCHEMA}")
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_stack_is_airflow_3_on_postgres_with_a_mail_catcher_and_a_scale_profile():
    for name in (
        "postgres",
        "mailpit",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    ):
        assert name in SERVICES and "profiles" not in SERVICES[name], name
    assert SERVICES["redis"]["profiles"] == ["scale"] and SERVICES["airflow-worker"]["profiles"] == ["scale"]
    assert SERVICES["airflow-worker"]["command"] == "celery worker"
    for name in AIRFLOW_SERVICES:
        env = container_env(name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"  # the default
        assert container_env(name, {"AIRFLOW_EXECUTOR": "CeleryExecutor"})["AIRFLOW__CORE__EXECUTOR"] == (
            "CeleryExecutor"
        )
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]  # shared, or components reject each other's tokens
        assert SERVICES[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/api/v2/version" in " ".join(SERVICES["airflow-apiserver"]["healthcheck"]["test"])
    for name in LONG_RUNNING:
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"


def test_the_celery_end_to_end_test_runs_what_the_scale_profile_runs():
    from tests.test_e2e import CELERY_COMPONENTS

    commands = {SERVICES[name]["command"] for name in AIRFLOW_SERVICES if name != "airflow-init"}
    assert {" ".join(component) for component in CELERY_COMPONENTS} <= commands
    assert commands - {" ".join(c) for c in CELERY_COMPONENTS} == {"triggerer"}  # no deferrable task
    init = SERVICES["airflow-init"]["command"][-1]
    assert "airflow db migrate" in init and "python -m pipeline init" in init


def test_the_image_is_the_locked_airflow_with_the_locked_requirements():
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    assert base == f"apache/airflow:{locked_versions()['apache-airflow']}"
    assert re.search(r"pip install --no-cache-dir -r /opt/vigia/requirements.txt", DOCKERFILE)
    assert all(SERVICES[name].get("build") == "." for name in AIRFLOW_SERVICES)


# ---------------------------------------------------------------- paths


def test_every_mounted_and_copied_path_exists():
    mounted = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                mounted.append(source)
            else:
                assert source in COMPOSE.get("volumes", {}), f"{name}: named volume {source} is not declared"
        for config in service.get("configs", []):
            assert config["source"] in COMPOSE["configs"], name
    copied = [
        src
        for line in re.findall(r"^COPY\s+(.+)$", DOCKERFILE, re.M)
        for src in [w for w in line.split() if not w.startswith("--")][:-1]
    ]
    assert {"dags", "pipeline", "sql", "seeds", "feeds.toml", "requirements.txt"} <= set(copied)
    for path in mounted + copied:
        assert (REPO / path).exists(), f"{path} is mounted or copied but does not exist"
    # .dockerignore is an allow-list: whatever the Dockerfile copies must be on it.
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert set(copied) <= allowed, set(copied) - allowed


# ---------------------------------------------------------------- settings


def test_every_vigia_variable_passed_is_a_setting_the_pipeline_reads():
    passed = set(dockerfile_env())
    for service in SERVICES.values():
        passed |= set(environment(service))
    vigia = {name for name in passed if name.startswith("VIGIA_")}
    assert vigia, "no VIGIA_* variable is passed at all"
    assert vigia <= SETTINGS_VARIABLES, f"not read by pipeline.settings: {sorted(vigia - SETTINGS_VARIABLES)}"
    assert not {name for name in passed if name.startswith("VIGIA") and not name.startswith("VIGIA_")}


@pytest.mark.parametrize("store", ["duckdb", "ducklake"])
def test_the_settings_compose_passes_are_valid(store):
    for name in AIRFLOW_SERVICES + ["vigia-sql"]:
        env = container_env(name, {"VIGIA_STORE": store})
        settings = Settings.from_env(env)
        assert settings.store == store
        assert settings.feeds_path == Path("/opt/vigia/feeds.toml")
        assert settings.db_path.parent == Path("/opt/vigia/data")
        mounts = {v.split(":")[1] for v in SERVICES[name].get("volumes", []) if isinstance(v, str)}
        assert "/opt/vigia/data" in mounts and "/opt/vigia/lake" in mounts
        assert settings.lake_data_path.rstrip("/") == "/opt/vigia/lake"
        # The lake's catalog is the database the postgres service creates on first start.
        dbname = re.search(r"dbname=(\w+)", settings.lake_catalog).group(1)
        assert settings.lake_catalog.startswith("postgres:") and "host=postgres" in settings.lake_catalog
        assert f"CREATE DATABASE {dbname} " in COMPOSE["configs"]["lake-catalog"]["content"]


def test_every_airflow_option_passed_exists():
    from airflow.configuration import retrieve_configuration_description

    described = retrieve_configuration_description(include_providers=True)
    for name in AIRFLOW_SERVICES:
        for variable in container_env(name):
            m = re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", variable)
            if not m:
                continue
            section, option = m.group(1).lower(), m.group(2).lower()
            assert option in described.get(section, {}).get("options", {}), f"{name}: {variable}"


def test_alert_mail_goes_to_the_mail_catcher_as_smtp_default():
    conn = json.loads(container_env("airflow-scheduler")["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert conn["conn_type"] == "smtp" and conn["host"] == "mailpit" and conn["port"] == 1025
    assert conn["extra"]["disable_ssl"] and conn["extra"]["disable_tls"]  # Mailpit speaks plain SMTP
    assert any(p.endswith(":8025") for p in SERVICES["mailpit"]["ports"])  # its web UI


def test_the_sql_shell_service_runs_a_command_the_cli_has():
    from pipeline.cli import build_parser

    command = SERVICES["vigia-sql"]["command"]
    assert command[:3] == ["python", "-m", "pipeline"]
    args = build_parser().parse_args(command[3:])
    assert args.func.__name__ == "cmd_sql"


# ---------------------------------------------------------------- requirements.txt and uv.lock


def locked_versions() -> dict[str, str]:
    """Every package the project needs at run time (no dev group), as pinned in uv.lock."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    (project,) = [p for p in lock["package"] if p.get("source", {}).get("editable") == "."]
    pins: dict[str, set[str]] = {}
    todo = list(project.get("dependencies", []))
    seen: set[tuple] = set()
    while todo:
        dep = todo.pop()
        for package in packages[dep["name"]]:
            if "version" in dep and package["version"] != dep["version"]:
                continue
            key = (package["name"], package["version"], tuple(dep.get("extra", [])))
            if key in seen:
                continue
            seen.add(key)
            pins.setdefault(package["name"], set()).add(package["version"])
            todo += package.get("dependencies", [])
            for extra in dep.get("extra", []):
                todo += package.get("optional-dependencies", {}).get(extra, [])
    return {name: ",".join(sorted(versions)) for name, versions in pins.items()}


def required_versions() -> dict[str, str]:
    pins: dict[str, set[str]] = {}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)\s*(;.*)?", line)
        assert m, f"requirements.txt: not an exact pin: {line!r}"
        pins.setdefault(m.group(1).lower().replace("_", "-"), set()).add(m.group(2))
    return {name: ",".join(sorted(versions)) for name, versions in pins.items()}


def test_requirements_txt_pins_exactly_what_uv_lock_pins():
    locked, required = locked_versions(), required_versions()
    missing = {n: v for n, v in locked.items() if required.get(n) != v}
    extra = {n: v for n, v in required.items() if n not in locked}
    assert not missing and not extra, (
        f"requirements.txt is out of date with uv.lock (missing or different: {missing};"
        f" not locked: {extra}). "
        "Run: uv export --frozen --no-dev --no-hashes --no-emit-project -o requirements.txt"
    )
    for name in (
        "apache-airflow",
        "duckdb",
        "duckdb-extension-ducklake",
        "duckdb-extension-postgres-scanner",
    ):
        assert name in required
