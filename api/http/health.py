"""Liveness and readiness probes.

``GET /health`` says the process answers (always 200: restart me only if this fails).
``GET /ready`` says the process can serve: the database answers ``SELECT 1`` and, when
configured, Redis answers ``PING``; otherwise 503 problem+json naming what failed, so a
load balancer stops sending traffic without the process being killed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
from litestar import Response, get
from litestar.datastructures import State
from msgspec import Struct
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.http.errors import problem_response
from api.http.metrics import PROBE_SLOT
from api.store.db import ping
from api.store.redis_client import UNAVAILABLE

#: Seconds each dependency gets to answer a readiness probe.
PROBE_TIMEOUT_S = 3.0

logger = logging.getLogger("api.http.health")


class Health(Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, str] = {}


@get("/health", sync_to_thread=False, tags=["operations"])
def health() -> Health:
    """Liveness: the process is up."""
    return Health(status="ok")


def _ping(engine: Engine) -> None:
    # The probes' pool connection, shared with the scrape's count (api.http.metrics).
    if not PROBE_SLOT.acquire(timeout=PROBE_TIMEOUT_S):
        raise TimeoutError("the probe connection stayed busy")
    try:
        ping(engine)
    finally:
        PROBE_SLOT.release()


@get("/ready", tags=["operations"])
async def ready(state: State) -> Response[Any]:
    """Readiness: the database (and Redis, when configured) answer."""
    checks: dict[str, str] = {}
    failed: list[str] = []
    try:
        with anyio.fail_after(PROBE_TIMEOUT_S):
            await anyio.to_thread.run_sync(_ping, state.engine, abandon_on_cancel=True)
        checks["database"] = "ok"
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
        failed.append("database")
    if state.redis is None:
        checks["redis"] = "not configured"
    else:
        try:
            await asyncio.wait_for(state.redis.ping(), PROBE_TIMEOUT_S)
            checks["redis"] = "ok"
        except (*UNAVAILABLE, TimeoutError) as exc:
            logger.warning("readiness: redis unreachable: %s", type(exc).__name__)
            checks["redis"] = "unreachable"
            failed.append("redis")
    if failed:
        names = ", ".join(failed)
        return problem_response(
            503,
            code="not_ready",
            detail=f"Not ready: {names} unreachable.",
            detail_zh=f"服务未就绪：无法连接 {names}。",
            errors=[{"check": name, "status": checks[name]} for name in failed],
        )
    return Response(Health(status="ready", checks=checks))
