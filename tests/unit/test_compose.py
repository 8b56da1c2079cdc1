"""docker-compose.yml, checked offline: the Compose schema, plus what the schema misses."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_the_file_satisfies_the_compose_specification_schema() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dependency_names_a_defined_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        names = depends_on if isinstance(depends_on, list) else list(depends_on)
        for dependency in names:
            assert dependency in services, f"{name} depends on undefined {dependency}"
            assert dependency != name


def test_the_api_waits_for_healthy_database_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    depends_on = services["api"]["depends_on"]
    assert depends_on == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in depends_on:
        assert "healthcheck" in services[name], f"{name} needs a healthcheck to be waited for"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_every_build_has_a_dockerfile_that_exists(compose: dict[str, Any]) -> None:
    builds = [(n, s["build"]) for n, s in compose["services"].items() if "build" in s]
    assert builds
    for name, build in builds:
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (context / dockerfile).is_file(), f"{name}: {context / dockerfile} is missing"


def test_the_api_migrates_then_serves_with_several_workers(
    compose: dict[str, Any],
) -> None:
    command = command_text(compose["services"]["api"])
    # examengine serve: uvicorn with the keep-alive and graceful shutdown of the settings.
    assert command.index("examengine db upgrade") < command.index("examengine serve")
    assert "uvicorn" not in command
    assert int(compose["services"]["api"]["environment"]["EXAMENGINE_WORKERS"]) > 1


def test_the_api_is_configured_for_postgresql_and_redis_in_production(
    compose: dict[str, Any],
) -> None:
    environment = compose["services"]["api"]["environment"]
    assert environment["EXAMENGINE_ENV"] == "production"
    assert environment["EXAMENGINE_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in environment["EXAMENGINE_DATABASE_URL"]
    assert environment["EXAMENGINE_REDIS_URL"].startswith("redis://redis:6379")
    for secret in ("EXAMENGINE_SECRET_KEY", "EXAMENGINE_PAPER_SECRET"):
        assert ":?" in environment[secret], f"{secret} must be required, not defaulted"


def test_the_dockerfile_command_matches_the_compose_command(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    cmd = re.search(r'^CMD \["sh", "-c", "(.+)"\]$', dockerfile, re.MULTILINE)
    assert cmd is not None
    api_command = compose["services"]["api"]["command"]
    assert api_command[:2] == ["sh", "-c"]
    assert shlex.split(cmd.group(1)) == shlex.split(api_command[2])
