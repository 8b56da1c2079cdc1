"""Shared fixtures: settings, real PostgreSQL and Redis servers, migrated databases, and a
test client over the app.

Servers (see docs/decisions/0002 and STACK.md):

- PostgreSQL at ``EXAMENGINE_TEST_POSTGRES_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``). Each test that asks for ``postgres_url``
  gets a fresh database ``examengine_test_<random>``, dropped afterwards.
- Redis at ``EXAMENGINE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Each test
  gets its own key prefix (``examengine_test_<random>``) and its keys are deleted
  afterwards; nothing is flushed, so a shared server is safe.
- A Redis Cluster of three masters the session starts itself (``redis_cluster``:
  ``redis-server --cluster-enabled yes`` on free loopback ports in a temporary folder,
  joined by ``redis-cli --cluster create``, nothing on disk but the folder, stopped at the
  end). ``redis_target`` runs a test on the one server and on the cluster.

When a server is unreachable the test is skipped with instructions, except under
``CI=true``, where it fails: CI must never pass by skipping.

Migrations: the first upgrade to ``head`` of an empty database in a session runs every
migration for real and keeps the result as a template; later upgrades of an empty
database to ``head`` copy it (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL) instead of replaying the chain — the same schema in milliseconds
(``_migrations_from_a_template``). An upgrade to another revision, or of a database that
holds anything, runs the migrations as always, so the migrations' own tests are real.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from alembic import command as alembic_command
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from psycopg import sql
from sqlalchemy.engine import make_url

from api.app import create_app
from api.cli.main import main
from api.services.passwords import hash_password
from api.settings import (
    DatabaseSettings,
    RecordsSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
)
from api.store.db import migrate, standalone_transaction
from api.store.redis_client import SyncRedis, connect_sync
from api.store.tables import User
from tests.server import free_port

POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"

POSTGRES_HELP = (
    "set EXAMENGINE_TEST_POSTGRES_URL to a server where the user may CREATE DATABASE, or "
    "start the local one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) "
    "main start"
)
REDIS_HELP = (
    "set EXAMENGINE_TEST_REDIS_URL, or start a local server: redis-server --daemonize yes "
    '--bind 127.0.0.1 --port 6379 --save "" --appendonly no'
)


def unavailable(what: str, error: Exception, how: str) -> None:
    """Skip (or, under CI=true, fail) because ``what`` cannot be reached."""
    message = f"{what} is unreachable ({type(error).__name__}: {error}); {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def make_settings(
    tmp_path: Path, *, database_url: str | None = None, **changes: object
) -> Settings:
    """Settings for a test: everything local under ``tmp_path``, fixed secrets."""
    settings = Settings(
        environment="development",
        var_dir=tmp_path / "var",
        database=DatabaseSettings(url=database_url or f"sqlite:///{tmp_path / 'test.db'}"),
        security=SecuritySettings(
            secret_key="test-secret-key-" + "k" * 32, paper_secret="test-paper-secret-" + "p" * 32
        ),
        records=RecordsSettings(signing_secret="test-signing-secret-" + "s" * 32),
    )
    return settings.replace(**changes) if changes else settings


@pytest.fixture
def settings_sqlite(tmp_path: Path) -> Settings:
    """Settings over a fresh SQLite file in ``tmp_path`` (not migrated)."""
    return make_settings(tmp_path)


# ------------------------------------------------------------------------ migrations


class _Templates:
    """The migrated template of each backend, made on first use in a session."""

    def __init__(self, upgrade: Callable[..., None], folder: Path) -> None:
        self.upgrade = upgrade
        self.folder = folder
        self.sqlite: Path | None = None
        #: (server conninfo without a database, template database name)
        self.postgres: dict[str, str] = {}

    def __call__(self, config: Any, revision: str, **kwargs: Any) -> None:
        url = make_url(config.get_main_option("sqlalchemy.url").replace("%%", "%"))
        if revision != "head" or kwargs or not url.database:
            return self.upgrade(config, revision, **kwargs)
        if url.get_backend_name() == "sqlite":
            return self._sqlite(config, Path(url.database))
        return self._postgres(config, url)

    def _sqlite(self, config: Any, path: Path) -> None:
        if path.exists() and path.stat().st_size > 0:
            return self.upgrade(config, "head")
        if self.sqlite is None:
            self.upgrade(config, "head")
            self.sqlite = self.folder / "template.db"
            with sqlite3.connect(path) as source:
                source.execute("VACUUM INTO ?", (str(self.sqlite),))
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.sqlite, path)
        return None

    def _postgres(self, config: Any, url: Any) -> None:
        server = url.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        try:
            with psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=3,
            ) as target:
                empty = target.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                ).fetchone() == (0,)
        except psycopg.Error:  # unreachable: the real upgrade reports it, as it would
            empty = False
        if not empty:
            return self.upgrade(config, "head")
        template = self.postgres.get(server)
        if template is None:
            self.upgrade(config, "head")
            template = self.postgres[server] = f"examengine_template_{secrets.token_hex(6)}"
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(template), sql.Identifier(url.database)
                    )
                )
            return None
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(url.database)))
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(url.database), sql.Identifier(template)
                )
            )
        return None

    def drop(self) -> None:
        for server, template in self.postgres.items():
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(template)
                    )
                )


@pytest.fixture(scope="session", autouse=True)
def _migrations_from_a_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    templates = _Templates(alembic_command.upgrade, tmp_path_factory.mktemp("migrations"))
    alembic_command.upgrade = templates  # type: ignore[assignment]
    try:
        yield
    finally:
        alembic_command.upgrade = templates.upgrade
        templates.drop()


# ----------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the test."""
    server = os.environ.get("EXAMENGINE_TEST_POSTGRES_URL", POSTGRES_DEFAULT)
    url = make_url(server).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    name = f"examengine_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {url.render_as_string()}", exc, POSTGRES_HELP)
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (contract tests run once per backend)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.db'}"
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("postgres_url"))


# ---------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_url() -> str:
    """The Redis server's URL, checked to answer PING."""
    url = os.environ.get("EXAMENGINE_TEST_REDIS_URL", REDIS_DEFAULT)
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis at {url}", exc, REDIS_HELP)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"examengine_test_{secrets.token_hex(6)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass(frozen=True)
class RedisTarget:
    """Where a test's Redis state goes: one server or a cluster, and the test's prefix."""

    url: str
    cluster: bool
    prefix: str

    @property
    def name(self) -> str:
        return "cluster" if self.cluster else "server"

    def settings(self) -> RedisSettings:
        return RedisSettings(url=self.url, cluster=self.cluster, key_prefix=self.prefix)

    def client(self) -> SyncRedis:
        """A new blocking client (bytes, as the app's); close it after use."""
        return connect_sync(self.settings())


#: The cluster's masters; no replicas (a replica would add nothing the tests check).
CLUSTER_MASTERS = 3
CLUSTER_HELP = (
    "the Redis Cluster tests start their own cluster with /usr/bin/redis-server and "
    "redis-cli (Debian package redis-server, Redis ≥ 7): install it"
)


def _redis_cli(*args: str) -> str:
    done = subprocess.run(
        ["redis-cli", *args], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def start_cluster(folder: Path, masters: int = CLUSTER_MASTERS) -> list[int]:
    """Start ``masters`` cluster-enabled redis-servers on free loopback ports under
    ``folder`` and join them into one cluster; their ports once every node says the
    cluster is ok. Raises ``RuntimeError`` (or ``OSError`` without redis-server)."""
    ports = [free_port() for _ in range(masters)]
    for port in ports:
        node = folder / str(port)
        node.mkdir()
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                # the bus port must be given: port + 10000 may be past 65535, or taken
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(free_port()),
                "--cluster-config-file",
                str(node / "nodes.conf"),
                "--dir",
                str(node),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--logfile",
                str(node / "redis.log"),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    nodes = [f"127.0.0.1:{p}" for p in ports]
    deadline = time.monotonic() + 10
    while True:  # daemonized: wait until each answers
        try:
            for port in ports:
                _redis_cli("-p", str(port), "ping")
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    _redis_cli("--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes")
    while any("cluster_state:ok" not in _redis_cli("-p", str(p), "cluster", "info") for p in ports):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster on {nodes} did not become ok")
        time.sleep(0.05)
    return ports


def stop_cluster(ports: list[int]) -> None:
    for port in ports:
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"],
            capture_output=True,
            timeout=30,
            check=False,
        )


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """The URL of one master of a three-master Redis Cluster started for this session
    (on CI a failure to start it fails the tests that need it)."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        unavailable("redis-server", FileNotFoundError("redis-server"), CLUSTER_HELP)
    folder = Path(tempfile.mkdtemp(prefix="examengine-cluster-"))
    ports: list[int] = []
    try:
        try:
            ports = start_cluster(folder)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            unavailable("a local Redis Cluster", exc, CLUSTER_HELP)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        stop_cluster(ports or [int(p.name) for p in folder.iterdir() if p.name.isdigit()])
        shutil.rmtree(folder, ignore_errors=True)


def redis_target_of(request: pytest.FixtureRequest, kind: str) -> RedisTarget:
    """A ``RedisTarget`` on one server (``kind`` "server") or the session's cluster
    ("cluster"), with a key prefix of the test's own, deleted after the test. For
    fixtures whose own parameters choose the backend; others use ``redis_target``."""
    request.applymarker(pytest.mark.redis)
    if kind == "server":
        return RedisTarget(
            url=str(request.getfixturevalue("redis_url")),
            cluster=False,
            prefix=str(request.getfixturevalue("redis_prefix")),
        )
    target = RedisTarget(
        url=str(request.getfixturevalue("redis_cluster")),
        cluster=True,
        prefix=f"examengine_test_{secrets.token_hex(6)}",
    )

    def clean() -> None:
        client = target.client()
        try:
            for key in client.scan_iter(match=f"{target.prefix}*", count=1000):
                client.delete(key)
        finally:
            client.close()

    request.addfinalizer(clean)
    return target


@pytest.fixture(params=["server", "cluster"])
def redis_target(request: pytest.FixtureRequest) -> RedisTarget:
    """One Redis server (``redis_url``), then the session's cluster: the test runs on
    both."""
    return redis_target_of(request, request.param)


# ------------------------------------------------------------------------------ app


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    """The settings ``app_client`` serves with; override this fixture to change them."""
    return settings_sqlite


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    """Routes added to the app under test; override in a module for probe routes."""
    return []


@pytest.fixture
async def app_client(
    app_settings: Settings, extra_routes: list[ControllerRouterHandler]
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client over ``create_app(app_settings)``, database migrated, lifespan run."""
    migrate(app_settings.database.url)
    app = create_app(app_settings, route_handlers=extra_routes)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
def settings_redis(settings_sqlite: Settings, redis_target: RedisTarget) -> Settings:
    """``settings_sqlite`` with Redis (sessions and rate limits) under a private prefix:
    one server, then the cluster."""
    return settings_sqlite.replace(redis=redis_target.settings())


# --------------------------------------------------------------------------- accounts

TEST_PASSWORD = "correct horse"


@pytest.fixture
def add_user(app_settings: Settings) -> Callable[..., None]:
    """Create an account (password ``correct horse``) directly in the migrated database."""
    migrate(app_settings.database.url)

    def add(login: str, *roles: str, must_change: bool = False) -> None:
        with standalone_transaction(app_settings.database) as db:
            db.add(
                User(
                    login=login,
                    display_name=f"user {login}",
                    password_hash=hash_password(TEST_PASSWORD),
                    roles=list(roles),
                    must_change_password=must_change,
                )
            )

    return add


# --------------------------------------------------------------------- the command line


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No EXAMENGINE_* setting from outside the test (the test services' URLs excepted)."""
    for name in list(os.environ):
        if name.startswith("EXAMENGINE_") and not name.startswith("EXAMENGINE_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_environ: None) -> dict[str, str]:
    """The environment of an ``examengine`` command: run in ``tmp_path``, over a SQLite
    file there (not migrated)."""
    monkeypatch.chdir(tmp_path)
    return {
        "EXAMENGINE_VAR_DIR": str(tmp_path / "var"),
        "EXAMENGINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }


@pytest.fixture
def migrated_cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` after ``examengine db upgrade``."""
    upgraded = CliRunner().invoke(main, ["db", "upgrade"], env=cli_env)
    assert upgraded.exit_code == 0, upgraded.output
    return cli_env
