"""The Litestar application factory.

``create_app(settings)`` wires the shell together: settings on ``app.state``, the
database engine and session factory (created at startup, disposed at shutdown), the
per-request ``db`` transaction, the cross-site request checks (decision 0015), server-side
sessions (files, or Redis when configured) and the check that ends sessions of an older
generation (decision 0014), the login rate limit, problem+json errors, Prometheus metrics
at /metrics (an allow-list or a token in production), OpenAPI at /schema, and one JSON
access line per request with its X-Request-ID.

To add routes, append controllers or handlers to ``ROUTE_HANDLERS`` (or pass them to
``create_app(route_handlers=...)`` in tests); to map a domain exception, add one line to
``api.http.errors.EXCEPTION_HANDLERS``. Routes that never read the login session (probes,
static files, the study hot path) are ``SESSIONLESS_HANDLERS``: the session layers are
not even passed through for them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from anyio import to_thread
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.types import ControllerRouterHandler

from api.clock import SystemClock
from api.http.accounts import AccountsController, register
from api.http.admission import Admission
from api.http.attempts import LearnerAttemptsController, OperatorAttemptsController
from api.http.auth import (
    LOGIN_FAILURES_STORE,
    SESSION_GENERATIONS_STORE,
    AuthController,
    SessionCheck,
    login_rate_limit,
    session_config,
)
from api.http.authoring import AuthoringController
from api.http.card import CARD_HANDLERS
from api.http.certificates import (
    EmployerCertificatesController,
    MyCertificatesController,
    OperatorCertificatesController,
    key_set,
    verify,
    verify_rate_limit,
)
from api.http.codes import issue_codes, redeem_code
from api.http.csrf import FormCsrf, SameSiteOnly, csrf_config, default_origins
from api.http.employer import EmployerController, EmployerRegistryController, plans
from api.http.errors import exception_handlers
from api.http.evidence import EvidenceController
from api.http.exams import ExamsController
from api.http.health import health, ready
from api.http.integrity import IntegrityController
from api.http.media import MEDIA_HANDLERS
from api.http.metrics import MetricsController, worker_started, worker_stopped
from api.http.orders import (
    EmployerOrdersController,
    MyOrdersController,
    OperatorOrdersController,
    OrderController,
    payment_callback,
)
from api.http.params import MAX_JSON_BYTES, ApiRequest
from api.http.plans import PlanFilesController
from api.http.risk import RiskController
from api.http.schema import (
    ArrayLikeStructs,
    allow_every_method,
    document_replies,
    openapi_config,
    viewer_assets,
)
from api.http.study import HOT_PATHS, HOT_ROUTES, StudyController, StudyHotController
from api.logging import RequestLog, logging_config
from api.services import certificates, keys
from api.services.accounts import LockPolicy
from api.services.notify import load_notifier
from api.services.payments import load_providers
from api.services.study import LiveStudy, closing_policy
from api.settings import Settings
from api.store.db import UnitOfWork, make_engine, provide_uow, session_factory
from api.store.files import FileStore
from api.store.redis_client import AsyncRedis, connect
from api.web import PAGE_HANDLERS, STATIC_HANDLERS, template_config
from api.workers.checkpointer import Checkpointer
from api.workers.study_relay import StudyRelay
from api.workers.study_ticker import StudyTicker
from api.workers.sweeper import Sweeper
from examengine.challenges import ChallengePolicy, InProcessScheduler
from examengine.clock import Clock

logger = logging.getLogger("api.app")

#: The app's routes of signed-in use, behind the login session, its check, the CSRF
#: token on forms and the login rate limit. Register a new controller by appending it
#: here.
ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    *PAGE_HANDLERS,
    AuthController,
    register,
    AccountsController,
    AuthoringController,
    ExamsController,
    LearnerAttemptsController,
    OperatorAttemptsController,
    RiskController,
    StudyController,
    IntegrityController,
    EvidenceController,
    EmployerController,
    EmployerRegistryController,
    plans,
    PlanFilesController,
    issue_codes,
    redeem_code,
    MyOrdersController,
    EmployerOrdersController,
    OrderController,
    OperatorOrdersController,
    *CARD_HANDLERS,
    *MEDIA_HANDLERS,
    MyCertificatesController,
    EmployerCertificatesController,
    OperatorCertificatesController,
    verify,
]

#: Routes that never read the login session: the probes, the study hot path
#: (authenticated by its token: api.http.study), static files and the API viewer's
#: assets; and /metrics and /schema, which create_app adds. The session layers are
#: mounted on a router around ROUTE_HANDLERS only, so these pass through none of them.
SESSIONLESS_HANDLERS: list[ControllerRouterHandler] = [
    health,
    ready,
    StudyHotController,
    # A payment provider's server calls it: its signature, not a login, authenticates it.
    payment_callback,
    # The public keys records are signed with: anyone fetches them, no session.
    key_set,
    *STATIC_HANDLERS,
    viewer_assets(),
]

#: Units of work beside the requests': the sweeper, the study ticker, the checkpointer,
#: the probes (the readiness probe and the scrape's count take turns:
#: api.http.metrics.PROBE_SLOT).
BACKGROUND_UNITS = 4

#: Paths whose access lines are sampled (api.logging.RequestLog).
_QUIET = frozenset({"/health", "/ready", *HOT_ROUTES})


def create_app(
    settings: Settings | None = None,
    *,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    clock: Clock | None = None,
) -> Litestar:
    """The app for ``settings`` (read from ``os.environ`` when None).

    ``route_handlers`` are added after ``ROUTE_HANDLERS``, behind the login session
    (tests use it for probe routes).
    ``clock`` is the one clock of the app (``app.state.clock``; the system clock unless a
    test passes a ``ManualClock``): handlers and the sweeper read it once per request or
    tick.
    """
    if settings is None:
        settings = Settings.from_env(os.environ)
    clock = clock or SystemClock()
    redis = connect(settings.redis)
    prometheus = PrometheusConfig(
        app_name="examengine",
        prefix="examengine",
        group_path=True,
        # The probes are not traffic; the study hot path counts itself, for less
        # (api.http.study.HOT_REQUESTS, HOT_SECONDS).
        exclude=["^/metrics", "^/health$", "^/ready$", *HOT_PATHS],
    )
    security = settings.security
    production = settings.environment == "production"
    sessions = session_config(max_age=security.session_max_age, secure=production)
    origins = security.public_origins or default_origins(settings.server.host, settings.server.port)
    csrf = csrf_config(secret=security.secret_key, secure=production)
    signed_in = Router(
        path="/",
        route_handlers=[*ROUTE_HANDLERS, *route_handlers],
        middleware=[
            DefineMiddleware(FormCsrf, config=csrf),
            sessions.middleware,
            SessionCheck,
            # Certificate lookups (/verify): always limited, against enumeration.
            verify_rate_limit(settings.records.verify_per_minute).middleware,
            *(
                []
                if settings.load_test
                else [login_rate_limit(security.login_attempts_per_minute).middleware]
            ),
        ],
    )
    app = Litestar(
        route_handlers=[signed_in, *SESSIONLESS_HANDLERS, MetricsController],
        dependencies={"uow": Provide(provide_uow, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        request_class=ApiRequest,
        request_max_body_size=MAX_JSON_BYTES,
        middleware=[
            prometheus.middleware,
            DefineMiddleware(
                Admission,
                running=settings.server.threads,
                waiting=settings.server.queue_depth,
                wait_s=settings.server.queue_wait_ms / 1000,
                standing_wait_s=settings.server.queue_standing_wait_ms / 1000,
                retry_after_s=settings.server.retry_after_s,
                password_slots=settings.server.password_slots,
                retry_after_max_s=settings.server.retry_after_max_s,
            ),
            DefineMiddleware(SameSiteOnly, origins=frozenset(origins)),
        ],
        stores=_stores(settings, redis),
        template_config=template_config(),
        lifespan=[_lifespan],
        openapi_config=openapi_config(_version()),
        plugins=[ArrayLikeStructs()],
        logging_config=logging_config(settings.server.log_level),
        state=State(
            {
                "settings": settings,
                "login_lock": LockPolicy(
                    max_failures=security.lock_failures,
                    lock_s=security.lock_s,
                    account_failures=security.account_failures_per_hour,
                ),
                "redis": redis,
                # The generations this process read or wrote (auth.session_generations).
                "session_generations": {},
                "clock": clock,
                # Delivers activation and reset links (api.services.notify).
                "notifier": load_notifier(settings),
                # The bank transfer and the online providers configured (api.services.payments).
                "providers": load_providers(settings),
                # The site's own origins (the same-site check; the study socket's too).
                "origins": frozenset(origins),
                # Set when SIGTERM or SIGINT arrives: long-lived streams close at once
                # instead of holding the graceful shutdown for its whole timeout.
                "draining": asyncio.Event(),
                "study": (study := _live_study(settings, clock)),
                "study_relay": StudyRelay(
                    study,
                    redis,
                    prefix=settings.redis.key_prefix,
                    secret=settings.security.secret_key.encode(),
                ),
            }
        ),
        debug=False,
    )
    # Outermost, around Litestar's own exception handling, so that unrouted requests
    # (404, 405) get a request id and an access line too.
    app.asgi_handler = RequestLog(
        app.asgi_handler, quiet=_QUIET, sample=settings.server.access_log_sample
    )
    allow_every_method(app)
    document_replies(app)
    return app


def _live_study(settings: Settings, clock: Clock) -> LiveStudy:
    """The live study sessions beside in-process challenge schedulers (the default
    backend): a pool of two per policy in use — the service's default from the
    settings, or a plan's own — each with its own random stream from a seed drawn at
    startup."""
    study = settings.study
    seeds = np.random.SeedSequence(secrets.randbits(128))
    epoch = clock.now_ms()

    def schedulers(policy: ChallengePolicy) -> tuple[InProcessScheduler, InProcessScheduler]:
        regular, closing = (np.random.default_rng(s) for s in seeds.spawn(2))
        return (
            InProcessScheduler(study.capacity, policy, rng=regular, epoch_ms=epoch),
            InProcessScheduler(study.capacity, closing_policy(policy), rng=closing, epoch_ms=epoch),
        )

    default = ChallengePolicy(
        min_interval_ms=study.challenge_min_s * 1000,
        max_interval_ms=max(study.challenge_min_s, study.challenge_max_s) * 1000,
        window_ms=study.challenge_window_s * 1000,
    )
    return LiveStudy(
        schedulers,
        default=default,
        secret=settings.security.secret_key.encode(),
        worker=secrets.token_hex(4),  # this process's name in its tokens (decision 0010)
    )


#: The cyclic garbage collector's thresholds while serving (CPython's: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


def _quiet_collector() -> None:
    """Keep the cyclic garbage collector from stalling the event loop: collections run
    far less often, so full ones over a big heap are rare. A worker holding 10,000 study
    sockets otherwise paused for up to a second in them (a heartbeat's p99 0.9 s, 15 % of
    a core; with these thresholds 12 ms and 9 %: docs/benchmarks.md). Cycles are still
    collected, in bigger, rarer batches."""
    gc.set_threshold(*GC_THRESHOLDS)


def _version() -> str:
    try:
        return version("examengine")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def _stores(settings: Settings, redis: AsyncRedis | None) -> dict[str, Store]:
    if redis is not None:
        # On a cluster too: the stores send one-key commands (GET, SET, DELETE, EXISTS,
        # TTL) and a one-key script (get and renew), each routed to its key's slot.
        # RedisStore.delete_all (a SCAN script without keys) would not work on a cluster;
        # the app never calls it.
        prefix = settings.redis.key_prefix
        client: Any = redis  # RedisStore is typed for the one-server client only
        return {
            "sessions": RedisStore(client, namespace=f"{prefix}:sessions"),
            "rate_limit": RedisStore(client, namespace=f"{prefix}:rate_limit"),
            LOGIN_FAILURES_STORE: RedisStore(client, namespace=f"{prefix}:login_failures"),
            SESSION_GENERATIONS_STORE: RedisStore(
                client, namespace=f"{prefix}:session_generations"
            ),
        }
    # Login failures on files, not in memory: every worker on the host must see them.
    return {
        "sessions": FileStore(settings.var_dir / "sessions", create_directories=True),
        "rate_limit": MemoryStore(),
        LOGIN_FAILURES_STORE: FileStore(
            settings.var_dir / "login_failures", create_directories=True
        ),
        SESSION_GENERATIONS_STORE: FileStore(
            settings.var_dir / "session_generations", create_directories=True
        ),
    }


def _drain_on_signal(draining: asyncio.Event) -> Callable[[], None]:
    """Set ``draining`` when SIGTERM or SIGINT arrives, then pass the signal on to the
    server's own handler (uvicorn's, which starts the graceful shutdown); a function that
    puts the server's handlers back. Signals reach the main thread only: elsewhere (an
    in-process test client) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(draining.set)
        chained = previous[signal.Signals(sig)]
        if callable(chained):
            chained(sig, frame)
        else:  # the default or ignored: as if we had not been here
            signal.signal(sig, chained)
            signal.raise_signal(sig)

    for sig in previous:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    worker_started()  # the metrics of workers that died are not this one's
    if settings.load_test:
        logger.warning("EXAMENGINE_LOAD_TEST is on: no login rate limit, no forced password change")
    # One thread and one pool connection per request that may run at once (admission
    # lets no more in), and a connection for each background worker.
    running = settings.server.threads + settings.server.password_slots
    to_thread.current_default_thread_limiter().total_tokens = running
    engine = make_engine(settings.database, serving=running + BACKGROUND_UNITS)
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    # Units of work that make a certificate due sign it (api.services.certificates).
    certificates.bind(app.state.sessions, settings.records)
    app.state.uow = UnitOfWork(app.state.sessions)
    sessions: Any = app.stores.get("sessions")
    if isinstance(sessions, FileStore):
        Path(sessions.path).mkdir(parents=True, exist_ok=True)
        await sessions.delete_expired()
    sweeper = None
    if settings.exam.sweep_interval_ms > 0:
        sweeper = Sweeper(
            app.state.sessions, app.state.clock, interval_ms=settings.exam.sweep_interval_ms
        )
        sweeper.start()
    study = settings.study
    ticker = StudyTicker(
        app.state.study,
        app.state.sessions,
        app.state.clock,
        tick_ms=study.tick_interval_ms,
        flush_ms=study.flush_interval_ms,
    )
    app.state.study_ticker = ticker
    if study.tick_interval_ms > 0:
        ticker.start()
    checkpointer = None
    if settings.records.checkpoint_interval_ms > 0:
        checkpointer = Checkpointer(
            app.state.sessions,
            app.state.clock,
            keys.current(settings.records),
            interval_ms=settings.records.checkpoint_interval_ms,
        )
        checkpointer.start()
    relay: StudyRelay = app.state.study_relay
    await relay.start()
    restore = _drain_on_signal(app.state.draining)
    _quiet_collector()
    try:
        yield
    finally:
        restore()
        await relay.stop()
        if sweeper is not None:
            await sweeper.stop()
        await ticker.stop()
        if checkpointer is not None:
            await checkpointer.stop()
        engine.dispose()
        if app.state.redis is not None:
            await app.state.redis.aclose()
        worker_stopped()
