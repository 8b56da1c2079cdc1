"""The one frozen Settings tree, built from an explicit table of environment variables.

This module owns the names, defaults and parsing of every ``EXAMENGINE_*`` variable and
the development-secret rule (docs/decisions/0002-settings-and-secrets.md). It reads
nothing at import time: ``Settings.from_env(os.environ)`` is called by the app factory
and the command line; tests build ``Settings`` directly or from a plain dict.

Adding a variable is one row in ``VARIABLES`` plus a field in the section it fills.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import importlib
import ipaddress
import os
import re
import secrets
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import msgspec
from msgspec import Struct
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Environment = Literal["development", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

#: Shortest secret accepted outside development (bytes of text, e.g. 43 for token_urlsafe(32)).
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names the variable."""


class DatabaseSettings(Struct, frozen=True, kw_only=True):
    #: A SQLAlchemy URL: ``sqlite:///relative.db``, ``sqlite:////abs.db`` or
    #: ``postgresql+psycopg://…`` (``postgresql://`` is rewritten to use psycopg 3).
    url: str = "sqlite:///var/examengine.db"
    echo: bool = False
    #: Longest wait for a pool connection before the request is refused (503). The app's
    #: pool holds a connection for every request thread and every background worker, so
    #: a wait means something is wrong: fail fast rather than queue behind it.
    pool_timeout_ms: int = 2000
    #: PostgreSQL's own guards, set on every connection: a statement running longer, a
    #: lock waited for longer, a transaction left idle longer is ended by the server.
    statement_timeout_ms: int = 15_000
    lock_timeout_ms: int = 5000
    idle_in_transaction_timeout_ms: int = 10_000
    #: SQLite allows one writer: writers of this process take turns, first come first
    #: served; one that waits longer than this is refused (503) instead of spinning.
    sqlite_write_wait_ms: int = 5000


class RedisSettings(Struct, frozen=True, kw_only=True):
    #: None: one process, in-process stores (sessions on files, rate limits in memory).
    url: str | None = None
    #: The URL names one node of a Redis Cluster (any master): the app discovers the
    #: others and keeps each command's keys in one hash slot (docs/decisions/0018).
    cluster: bool = False
    #: Every key this app writes starts with it, so apps (and test runs) can share a server.
    key_prefix: str = "examengine"


class SecuritySettings(Struct, frozen=True, kw_only=True):
    #: Signs nothing by itself today; kept for CSRF and signed links (server-side sessions
    #: carry only a random id).
    secret_key: str
    #: Keys the per-learner paper seeds, so a seed cannot be guessed from public inputs.
    paper_secret: str
    #: Seconds a login session lives.
    session_max_age: int = 8 * 3600
    #: Requests per client address and minute to the login, the registration and the
    #: password change (a whole exam room may share one address behind NAT: raise it
    #: there; the lock below still guards each account).
    login_attempts_per_minute: int = 10
    #: Wrong passwords in a row for one account from one address that pause its sign-in
    #: from there, and for how long (docs/decisions/0014).
    lock_failures: int = 5
    lock_s: int = 15 * 60
    #: Wrong passwords for one account an hour, from all addresses, after which only
    #: addresses it signed in from before may try (ASVS 2.2.1).
    account_failures_per_hour: int = 100
    #: The origins (``https://exam.example.cn``) this site is served at: unsafe requests
    #: whose Origin/Referer names another site are refused (docs/decisions/0015). Empty:
    #: the server's own ``http://host:port`` (and the loopback names on loopback), and
    #: always the request's own Host.
    public_origins: tuple[str, ...] = ()
    #: Who may read /metrics in production: these addresses or networks, or a client
    #: sending ``Authorization: Bearer <metrics_token>``. Outside production it is open.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str | None = None
    #: Hours an activation link of a new account, and a reset link, stay valid.
    activation_ttl_h: int = 14 * 24
    reset_ttl_h: int = 24


class ServerSettings(Struct, frozen=True, kw_only=True):
    """How one process takes load (docs/operations.md, "Capacity"). ``threads`` requests
    run at once, each on a worker thread with a pool connection of its own; up to
    ``queue_depth`` more wait, each at most ``queue_wait_ms``; anything beyond is refused
    at once with 503 and Retry-After, never left hanging."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: LogLevel = "INFO"
    #: One access line in this many for the quiet paths (the study hot path and the
    #: probes: most of the traffic, each one like the last); their refusals, errors and
    #: slow requests are always logged. 1: every request.
    access_log_sample: int = 100
    #: About two per core: the units of work are mostly Python, and more threads only
    #: contend for the GIL and starve the event loop (at 5,000 learners on SQLite on 2
    #: cores: 16 threads, 56 s worst response; 4 threads, 5.6 s; docs/benchmarks.md).
    #: Raise it when the database is remote and its round trips dominate.
    threads: int = 4
    queue_depth: int = 32
    queue_wait_ms: int = 500
    #: The longest wait in a standing queue (one not empty for ``queue_wait_ms``): the
    #: load is past what the process serves, and a long wait only makes a late refusal.
    queue_standing_wait_ms: int = 50
    #: Sign-ins and password changes hashing at once (argon2: ~45 ms of a core each, by
    #: design). One per process leaves the other cores to the event loop and the saves of
    #: learners already writing while a whole room signs in.
    password_slots: int = 1
    #: The Retry-After of a refusal when few are refused; clients add jitter.
    retry_after_s: int = 2
    #: The Retry-After when most are: it grows with refused ÷ admitted over the last two
    #: seconds, so retries spread out instead of coming back into a full process.
    retry_after_max_s: int = 15
    #: Seconds an idle keep-alive connection stays open. Longer than the pages' save and
    #: heartbeat interval (5–15 s), so a reused connection is not closed under a request;
    #: behind a proxy, set the proxy's idle timeout to less than this.
    keep_alive_s: int = 75
    #: Seconds SIGTERM waits for requests in flight before closing what is left.
    shutdown_timeout_s: int = 30


class ExamSettings(Struct, frozen=True, kw_only=True):
    #: Seconds after the deadline in which a submit sent before the deadline is accepted.
    network_grace_s: int = 30
    #: Milliseconds between two runs of the in-process sweeper that closes attempts past
    #: their deadline (0: none in this process; run ``examengine sweep`` instead).
    sweep_interval_ms: int = 500
    #: Fewest responses an item needs in a calibration before its fitted parameters are
    #: used; below, it stays provisional on its authored difficulty (docs/decisions/0039;
    #: the default is ``itembank.calibration.DEFAULT_MIN_RESPONSES``).
    calibration_min_responses: int = 200


class StudySettings(Struct, frozen=True, kw_only=True):
    """Credited study and its anti-idle challenges (docs/decisions/0009)."""

    #: Study sessions the in-process challenge scheduler holds at once.
    capacity: int = 100_000
    #: Milliseconds between two ticks of the study ticker (0: no ticker; tests tick).
    tick_interval_ms: int = 1000
    #: Milliseconds between two batched writes of live study progress: the crash bound.
    flush_interval_ms: int = 10_000
    #: The next challenge comes at a random moment in [min, max] seconds; ``window_s``
    #: seconds to answer it.
    challenge_min_s: int = 300
    challenge_max_s: int = 900
    challenge_window_s: int = 60
    #: Continuing-education hours a year each professional must earn (the national
    #: rule is 90: 30 of public subjects, 60 of professional ones; some regions differ).
    yearly_hours: int = 90
    #: The regions that differ: (region as an employer's ``region`` names it, hours).
    yearly_hours_by_region: tuple[tuple[str, int], ...] = ()

    def yearly_hours_for(self, region: str | None) -> int:
        """The hours a year a learner of an employer in ``region`` must earn."""
        return dict(self.yearly_hours_by_region).get(region or "", self.yearly_hours)


class PaymentSettings(Struct, frozen=True, kw_only=True):
    #: Online payment providers, each a ``module:factory`` (api.services.payments); the
    #: built-in bank transfer is always offered.
    providers: tuple[str, ...] = ()
    #: The platform's account that bank transfers go to, shown to buyers.
    transfer_payee: str = ""
    transfer_bank: str = ""
    transfer_account: str = ""


class RecordsSettings(Struct, frozen=True, kw_only=True):
    """Certificates, registration cards and the integrity log (docs/decisions/0027)."""

    #: Seeds the Ed25519 key that signs certificates, log checkpoints and evidence
    #: bundles. Keep it: a new one makes a new key id (old records still verify while the
    #: old public key is listed in ``retired_keys``).
    signing_secret: str
    #: Public keys (base64url, 32 bytes) of earlier signing keys, still published.
    retired_keys: tuple[str, ...] = ()
    #: The issuing body printed on certificates and cards.
    issuer: str = "继续教育考试中心"
    #: A PNG or JPEG of the issuer's seal printed on certificates (None: a drawn seal).
    seal_image: Path | None = None
    #: A TrueType font with the CJK characters (None: the bundled WenQuanYi Micro Hei).
    pdf_font: Path | None = None
    #: The address printed in certificates' QR codes (None: the first public origin, or
    #: the request's own).
    verify_base_url: str | None = None
    #: Lookups of /verify per client address and minute (against enumeration).
    verify_per_minute: int = 30
    #: Milliseconds between two signed checkpoints of the integrity log (0: none in this
    #: process; run ``examengine audit checkpoint`` instead).
    checkpoint_interval_ms: int = 300_000


class Settings(Struct, frozen=True, kw_only=True):
    security: SecuritySettings
    environment: Environment = "development"
    #: Where local state lives (SQLite file by default, sessions, development secrets).
    var_dir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    server: ServerSettings = ServerSettings()
    exam: ExamSettings = ExamSettings()
    study: StudySettings = StudySettings()
    payments: PaymentSettings = PaymentSettings()
    records: RecordsSettings = RecordsSettings(signing_secret="")
    #: A load-test run: no per-address login limit and no forced password change, so a
    #: generator on one address can sign in thousands of imported learners. Refused in
    #: production; the app logs a warning at every start while it is on.
    load_test: bool = False
    #: Who delivers activation and reset links: ``log`` (the built-in), or an SMS or
    #: e-mail provider's ``module:factory`` (``api.services.notify``).
    notifier: str = "log"
    #: The IANA time zone every page shows times in, labelled (docs/decisions/0036).
    display_timezone: str = "Asia/Shanghai"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build the settings from ``environ`` (usually ``os.environ``).

        Raises ``SettingsError`` naming the first bad variable. In development a missing
        secret is read from (or generated into) ``<var_dir>/secrets/``; in production it
        is an error.
        """
        _reject_unknown(environ)
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            raw = environ.get(variable.name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[variable.name] = variable.parse(raw.strip())
            except ValueError as exc:
                raise SettingsError(f"{variable.name}={raw!r}: {exc}") from None
        if values.get("EXAMENGINE_WORKERS", 1) > 1 and not values.get("EXAMENGINE_REDIS_URL"):
            raise SettingsError(
                f"EXAMENGINE_WORKERS={values['EXAMENGINE_WORKERS']} needs EXAMENGINE_REDIS_URL: "
                "study sessions, logins and rate limits are shared between workers through "
                "Redis (docs/decisions/0010)"
            )
        if values.get("EXAMENGINE_REDIS_CLUSTER") and not values.get("EXAMENGINE_REDIS_URL"):
            raise SettingsError(
                "EXAMENGINE_REDIS_CLUSTER=1 needs EXAMENGINE_REDIS_URL: the address of one of "
                "the cluster's nodes"
            )
        if values.get("EXAMENGINE_REDIS_CLUSTER") and _redis_db(values["EXAMENGINE_REDIS_URL"]):
            raise SettingsError(
                f"EXAMENGINE_REDIS_URL={values['EXAMENGINE_REDIS_URL']!r}: a Redis Cluster has "
                "only database 0; drop the /N from the URL"
            )
        environment: Environment = values.get("EXAMENGINE_ENV", "development")
        if values.get("EXAMENGINE_LOAD_TEST") and environment == "production":
            raise SettingsError(
                "EXAMENGINE_LOAD_TEST is refused when EXAMENGINE_ENV=production: it switches "
                "off the login rate limit and the forced password change"
            )
        var_dir: Path = values.get("EXAMENGINE_VAR_DIR", Path("var"))
        secret_key = _secret(values, "EXAMENGINE_SECRET_KEY", environment, var_dir)
        paper_secret = _secret(values, "EXAMENGINE_PAPER_SECRET", environment, var_dir)
        signing_secret = _secret(values, "EXAMENGINE_SIGNING_SECRET", environment, var_dir)

        def section(prefix: str) -> dict[str, Any]:
            return {
                v.field: values[v.name]
                for v in VARIABLES
                if v.section == prefix and v.name in values
            }

        return cls(
            environment=environment,
            var_dir=var_dir,
            database=DatabaseSettings(**section("database")),
            redis=RedisSettings(**section("redis")),
            security=SecuritySettings(
                **{**section("security"), "secret_key": secret_key, "paper_secret": paper_secret}
            ),
            server=ServerSettings(**section("server")),
            exam=ExamSettings(**section("exam")),
            study=StudySettings(**section("study")),
            payments=PaymentSettings(**section("payments")),
            records=RecordsSettings(**{**section("records"), "signing_secret": signing_secret}),
            load_test=values.get("EXAMENGINE_LOAD_TEST", False),
            notifier=values.get("EXAMENGINE_NOTIFIER", "log"),
            display_timezone=values.get("EXAMENGINE_DISPLAY_TIMEZONE", "Asia/Shanghai"),
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with some top-level sections replaced (tests use this)."""
        return msgspec.structs.replace(self, **changes)


def plug_in(spec: str, variable: str) -> Callable[[Settings], Any]:
    """The factory a ``module:factory`` setting names (a notifier, a payment provider):
    a callable taking the settings. ``SettingsError`` naming ``variable`` when it cannot
    be imported."""
    module, _, attribute = spec.partition(":")
    try:
        factory: Callable[[Settings], Any] = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SettingsError(
            f"{variable}={spec!r}: not an importable module:factory ({exc})"
        ) from None
    return factory


# ---------------------------------------------------------------------------- parsers


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected one of true/false, 1/0, yes/no, on/off")


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"expected a number {bounds}")
        return value

    return parse


def _choice(*choices: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _providers(raw: str) -> tuple[str, ...]:
    specs = tuple(part.strip() for part in raw.split(",") if part.strip())
    for spec in specs:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", spec):
            raise ValueError(f"{spec!r}: expected module:factory")
    return specs


def _text(limit: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > limit:
            raise ValueError(f"at most {limit} characters")
        return raw

    return parse


def _notifier(raw: str) -> str:
    if raw == "log" or re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", raw):
        return raw
    raise ValueError("expected log or module:factory")


def display_timezone(raw: str) -> str:
    """An IANA time-zone name the platform has data for (``Asia/Shanghai``, ``UTC``)."""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "not a known IANA time zone; expected a name such as Asia/Shanghai or UTC"
        ) from None
    return raw


def database_url(raw: str) -> str:
    """A SQLAlchemy URL for SQLite or PostgreSQL through psycopg 3.

    ``postgresql://`` and ``postgres://`` (what most hosts hand out) are rewritten to
    ``postgresql+psycopg://``: SQLAlchemy's default PostgreSQL driver is psycopg2,
    which is not installed.
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("not a database URL (e.g. sqlite:///var/examengine.db)") from None
    if url.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername in {"sqlite", "sqlite+pysqlite"}:
        return raw
    raise ValueError(f"unsupported database {url.drivername!r}: use sqlite:/// or postgresql://")


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return raw


def _redis_db(url: str) -> int:
    """The database number a redis:// URL names (its path, or ``?db=``; 0 if neither)."""
    parts = urlsplit(url)
    raw = parts.path.strip("/") or parse_qs(parts.query).get("db", ["0"])[0]
    return int(raw) if raw.isdigit() else 0


def _key_prefix(raw: str) -> str:
    if not all(c.isalnum() or c in "-_.:" for c in raw) or len(raw) > 64:
        raise ValueError("expected up to 64 letters, digits and - _ . :")
    return raw


def _secret_value(raw: str) -> str:
    if len(raw) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"too short: at least {MIN_SECRET_LENGTH} characters "
            '(generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    return raw


def _region_hours(raw: str) -> tuple[tuple[str, int], ...]:
    pairs = []
    for part in (p.strip() for p in raw.split(",")):
        region, sep, hours = part.rpartition("=")
        if not part:
            continue
        if not sep or not region.strip() or not hours.strip().isdigit():
            raise ValueError(f"{part!r}: expected region=hours, e.g. 重庆市=90")
        if not 1 <= int(hours) <= 1000:
            raise ValueError(f"{part!r}: hours must be between 1 and 1000")
        pairs.append((region.strip(), int(hours)))
    return tuple(pairs)


def _origins(raw: str) -> tuple[str, ...]:
    origins = []
    for item in (part.strip() for part in raw.split(",")):
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
            raise ValueError(
                f"{item!r} is not an origin: expected scheme://host[:port], comma-separated "
                "(e.g. https://exam.example.cn)"
            )
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def _networks(raw: str) -> tuple[str, ...]:
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(
                f"{item!r} is not an address or network: expected e.g. 10.0.0.0/8, comma-separated"
            ) from None
    return tuple(networks)


def _public_keys(raw: str) -> tuple[str, ...]:
    keys = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            decoded = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except ValueError:
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(f"{item!r}: expected an Ed25519 public key, 32 bytes in base64url")
        keys.append(item)
    return tuple(keys)


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
        raise ValueError("expected scheme://host[:port][/path], e.g. https://exam.example.cn")
    return raw.rstrip("/")


def _path(raw: str) -> Path:
    return Path(raw)


@dataclass(frozen=True)
class Variable:
    name: str
    #: "section.field" in the Settings tree, or a top-level name.
    target: str
    parse: Callable[[str], Any]
    help: str

    @property
    def section(self) -> str:
        return self.target.partition(".")[0]

    @property
    def field(self) -> str:
        return self.target.partition(".")[2]


VARIABLES: tuple[Variable, ...] = (
    Variable("EXAMENGINE_ENV", "environment", _choice("development", "production"),
             "development (default) or production: production requires both secrets"),
    Variable("EXAMENGINE_LOAD_TEST", "load_test", _boolean,
             "a load-test run: no login limit per address, no forced password change "
             "(refused in production)"),
    Variable("EXAMENGINE_VAR_DIR", "var_dir", _path,
             "directory for local state (default ./var)"),
    Variable("EXAMENGINE_DATABASE_URL", "database.url", database_url,
             "SQLAlchemy URL (default sqlite:///var/examengine.db, relative to the cwd)"),
    Variable("EXAMENGINE_DATABASE_ECHO", "database.echo", _boolean, "log every SQL statement"),
    Variable("EXAMENGINE_DB_POOL_TIMEOUT_MS", "database.pool_timeout_ms", _integer(100, 60_000),
             "longest wait for a pool connection before a 503 (default 2000)"),
    Variable("EXAMENGINE_DB_STATEMENT_TIMEOUT_MS", "database.statement_timeout_ms",
             _integer(100, 3_600_000), "PostgreSQL statement_timeout (default 15000)"),
    Variable("EXAMENGINE_DB_LOCK_TIMEOUT_MS", "database.lock_timeout_ms",
             _integer(100, 3_600_000), "PostgreSQL lock_timeout (default 5000)"),
    Variable("EXAMENGINE_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
             "database.idle_in_transaction_timeout_ms", _integer(100, 3_600_000),
             "PostgreSQL idle_in_transaction_session_timeout (default 10000)"),
    Variable("EXAMENGINE_SQLITE_WRITE_WAIT_MS", "database.sqlite_write_wait_ms",
             _integer(10, 60_000), "longest wait of a SQLite writer for its turn (default 5000)"),
    Variable("EXAMENGINE_REDIS_URL", "redis.url", _redis_url,
             "Redis for sessions, rate limits and the scheduler (default: none)"),
    Variable("EXAMENGINE_REDIS_CLUSTER", "redis.cluster", _boolean,
             "1: EXAMENGINE_REDIS_URL names a node of a Redis Cluster (default 0: one "
             "server)"),
    Variable("EXAMENGINE_REDIS_PREFIX", "redis.key_prefix", _key_prefix,
             "prefix of every Redis key (default examengine)"),
    Variable("EXAMENGINE_SECRET_KEY", "security.secret_key", _secret_value,
             "application secret (≥32 characters)"),
    Variable("EXAMENGINE_PAPER_SECRET", "security.paper_secret", _secret_value,
             "key for paper seeds (≥32 characters; keep it for audits)"),
    Variable("EXAMENGINE_SESSION_MAX_AGE", "security.session_max_age", _integer(60),
             "seconds a login session lives (default 28800)"),
    Variable("EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE", "security.login_attempts_per_minute",
             _integer(1, 100_000), "login attempts per client address and minute (default 10)"),
    Variable("EXAMENGINE_LOGIN_LOCK_FAILURES", "security.lock_failures", _integer(1, 1000),
             "wrong passwords in a row that pause an account's sign-in from one address "
             "(default 5)"),
    Variable("EXAMENGINE_LOGIN_LOCK_S", "security.lock_s", _integer(1, 86_400),
             "seconds that pause lasts (default 900)"),
    Variable("EXAMENGINE_ACCOUNT_FAILURES_PER_HOUR", "security.account_failures_per_hour",
             _integer(1, 100_000),
             "wrong passwords an hour for one account, all addresses, before only its known "
             "addresses may try (default 100)"),
    Variable("EXAMENGINE_PUBLIC_ORIGINS", "security.public_origins", _origins,
             "origins the site is served at, comma-separated; unsafe requests from other "
             "sites are refused (default: http://HOST:PORT and the request's own Host)"),
    Variable("EXAMENGINE_METRICS_ALLOW", "security.metrics_allow", _networks,
             "addresses/networks that may read /metrics in production (default 127.0.0.1, "
             "::1)"),
    Variable("EXAMENGINE_METRICS_TOKEN", "security.metrics_token", _secret_value,
             "bearer token that may read /metrics in production (≥32 characters; default "
             "none)"),
    Variable("EXAMENGINE_ACTIVATION_TTL_H", "security.activation_ttl_h", _integer(1, 24 * 90),
             "hours the activation link of a new account stays valid (default 336)"),
    Variable("EXAMENGINE_RESET_TTL_H", "security.reset_ttl_h", _integer(1, 24 * 14),
             "hours a password-reset link stays valid (default 24)"),
    Variable("EXAMENGINE_DISPLAY_TIMEZONE", "display_timezone", display_timezone,
             "IANA time zone the pages show times in, labelled (default Asia/Shanghai)"),
    Variable("EXAMENGINE_NOTIFIER", "notifier", _notifier,
             "who delivers activation and reset links: log (default; the links are written "
             "to the examengine.notices log) or an SMS/e-mail provider's module:factory"),
    Variable("EXAMENGINE_YEARLY_HOURS_BY_REGION", "study.yearly_hours_by_region", _region_hours,
             "regions whose yearly hours differ, comma-separated region=hours (the region an "
             "employer is registered with, e.g. 上海市=72); others: EXAMENGINE_YEARLY_HOURS"),
    Variable("EXAMENGINE_PAYMENT_PROVIDERS", "payments.providers", _providers,
             "online payment providers, comma-separated module:factory (default: none; "
             "the bank transfer an operator confirms is always offered)"),
    Variable("EXAMENGINE_TRANSFER_PAYEE", "payments.transfer_payee", _text(100),
             "the account name bank transfers are paid to, shown to buyers"),
    Variable("EXAMENGINE_TRANSFER_BANK", "payments.transfer_bank", _text(100),
             "the bank of that account"),
    Variable("EXAMENGINE_TRANSFER_ACCOUNT", "payments.transfer_account", _text(40),
             "the account number"),
    Variable("EXAMENGINE_SIGNING_SECRET", "records.signing_secret", _secret_value,
             "seeds the Ed25519 key signing certificates and the integrity log (≥32 "
             "characters; keep it: records signed with it verify only while its key is "
             "published)"),
    Variable("EXAMENGINE_SIGNING_RETIRED_KEYS", "records.retired_keys", _public_keys,
             "public keys of earlier signing keys, comma-separated base64url (still "
             "published at /.well-known/examengine-keys.json)"),
    Variable("EXAMENGINE_CERT_ISSUER", "records.issuer", _text(100),
             "the issuing body printed on certificates and cards"),
    Variable("EXAMENGINE_CERT_SEAL_IMAGE", "records.seal_image", _path,
             "a PNG or JPEG of the issuer's seal for certificates (default: a drawn seal)"),
    Variable("EXAMENGINE_PDF_FONT", "records.pdf_font", _path,
             "a TrueType (.ttf/.ttc) CJK font for PDFs (default: the bundled WenQuanYi "
             "Micro Hei)"),
    Variable("EXAMENGINE_VERIFY_BASE_URL", "records.verify_base_url", _base_url,
             "address printed in certificates' QR codes, e.g. https://exam.example.cn "
             "(default: the first public origin, or the request's own)"),
    Variable("EXAMENGINE_VERIFY_PER_MINUTE", "records.verify_per_minute", _integer(1, 100_000),
             "certificate lookups per client address and minute at /verify (default 30)"),
    Variable("EXAMENGINE_CHECKPOINT_INTERVAL_MS", "records.checkpoint_interval_ms",
             _integer(0, 86_400_000),
             "milliseconds between signed checkpoints of the integrity log (default 300000; "
             "0: none in this process)"),
    Variable("EXAMENGINE_YEARLY_HOURS", "study.yearly_hours", _integer(1, 1000),
             "continuing-education hours a year each learner must earn (default 90)"),
    Variable("EXAMENGINE_HOST", "server.host", str, "address to listen on (default 127.0.0.1)"),
    Variable("EXAMENGINE_PORT", "server.port", _integer(1, 65535), "port (default 8000)"),
    Variable("EXAMENGINE_WORKERS", "server.workers", _integer(1, 64),
             "uvicorn worker processes (default 1; more need EXAMENGINE_REDIS_URL)"),
    Variable("EXAMENGINE_LOG_LEVEL", "server.log_level",
             _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True), "default INFO"),
    Variable("EXAMENGINE_ACCESS_LOG_SAMPLE", "server.access_log_sample", _integer(1, 1_000_000),
             "log one access line in N for study heartbeats, answers and probes; their "
             "failures and slow requests always (default 100; 1: every request)"),
    Variable("EXAMENGINE_THREADS", "server.threads", _integer(1, 512),
             "requests run at once per process, each on a thread (default 4)"),
    Variable("EXAMENGINE_QUEUE_DEPTH", "server.queue_depth", _integer(0, 100_000),
             "requests that may wait for a thread before 503s (default 32)"),
    Variable("EXAMENGINE_QUEUE_WAIT_MS", "server.queue_wait_ms", _integer(1, 30_000),
             "longest wait for a thread before a 503 (default 500)"),
    Variable("EXAMENGINE_QUEUE_STANDING_WAIT_MS", "server.queue_standing_wait_ms",
             _integer(0, 30_000),
             "longest wait when the queue has not emptied for QUEUE_WAIT_MS (default 50)"),
    Variable("EXAMENGINE_PASSWORD_SLOTS", "server.password_slots", _integer(1, 512),
             "sign-ins hashing a password at once per process (default 1)"),
    Variable("EXAMENGINE_RETRY_AFTER_S", "server.retry_after_s", _integer(1, 3600),
             "Retry-After of a 503 refusal under light pressure (default 2)"),
    Variable("EXAMENGINE_RETRY_AFTER_MAX_S", "server.retry_after_max_s", _integer(1, 3600),
             "Retry-After when most requests are refused (default 15)"),
    Variable("EXAMENGINE_KEEP_ALIVE_S", "server.keep_alive_s", _integer(1, 3600),
             "idle keep-alive seconds; a proxy in front must time out sooner (default 75)"),
    Variable("EXAMENGINE_SHUTDOWN_TIMEOUT_S", "server.shutdown_timeout_s", _integer(1, 3600),
             "seconds SIGTERM waits for requests in flight (default 30)"),
    Variable("EXAMENGINE_NETWORK_GRACE_S", "exam.network_grace_s", _integer(0, 600),
             "seconds of grace for a submit sent before the deadline (default 30)"),
    Variable("EXAMENGINE_SWEEP_INTERVAL_MS", "exam.sweep_interval_ms", _integer(0, 60_000),
             "ms between sweeps closing attempts past their deadline (default 500; 0: off)"),
    Variable("EXAMENGINE_CALIBRATION_MIN_RESPONSES", "exam.calibration_min_responses",
             _integer(1, 1_000_000),
             "responses an item needs before a calibration's fitted parameters are used; "
             "fewer: provisional, on its authored difficulty (default 200)"),
    Variable("EXAMENGINE_STUDY_CAPACITY", "study.capacity", _integer(1, 50_000_000),
             "study sessions the in-process challenge scheduler holds (default 100000)"),
    Variable("EXAMENGINE_STUDY_TICK_MS", "study.tick_interval_ms", _integer(0, 60_000),
             "ms between ticks of the study ticker (default 1000; 0: off)"),
    Variable("EXAMENGINE_STUDY_FLUSH_MS", "study.flush_interval_ms", _integer(1000, 600_000),
             "ms between batched writes of live study progress, the crash bound (default 10000)"),
    Variable("EXAMENGINE_CHALLENGE_MIN_S", "study.challenge_min_s", _integer(1, 86_400),
             "earliest next anti-idle challenge, seconds (default 300)"),
    Variable("EXAMENGINE_CHALLENGE_MAX_S", "study.challenge_max_s", _integer(1, 86_400),
             "latest next anti-idle challenge, seconds (default 900)"),
    Variable("EXAMENGINE_CHALLENGE_WINDOW_S", "study.challenge_window_s", _integer(1, 3600),
             "seconds to answer an anti-idle challenge (default 60)"),
)  # fmt: skip

_KNOWN = frozenset(v.name for v in VARIABLES)
#: Prefixes read by others (the test suite), not by Settings.
_IGNORED_PREFIXES = ("EXAMENGINE_TEST_",)


def _reject_unknown(environ: Mapping[str, str]) -> None:
    """A misspelt variable would silently fall back to a default: refuse it instead."""
    for name in sorted(environ):
        if (
            name.startswith("EXAMENGINE_")
            and name not in _KNOWN
            and not name.startswith(_IGNORED_PREFIXES)
        ):
            close = difflib.get_close_matches(name, _KNOWN, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"{name}: unknown variable{hint}")


def _secret(values: dict[str, Any], name: str, environment: Environment, var_dir: Path) -> str:
    if name in values:
        return str(values[name])
    if environment == "production":
        raise SettingsError(f"{name} is required when EXAMENGINE_ENV=production")
    return development_secret(var_dir / "secrets" / name.removeprefix("EXAMENGINE_").lower())


def development_secret(path: Path) -> str:
    """The secret stored at ``path``, created (mode 0600) on first use.

    The secret is written to a private temporary file and hard-linked into place, so
    several workers starting at once agree on one secret and never read half of it.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{path}: the stored development secret is too short; delete it")
    return value
