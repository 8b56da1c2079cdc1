"""Structured logs: one JSON object per line, and one access line per request.

This module owns the log format (``JsonFormatter``), the logging configuration handed to
Litestar (``logging_config``), and ``RequestLog``, the outermost ASGI wrapper that gives
every request an id (``X-Request-ID``: the caller's, when it is sane, else a new one),
echoes it, and logs method, path, status, duration and id when the response is done.
The quiet paths (the study hot path and the probes: most requests, each like the last)
are sampled — one line in ``sample``, with ``"sampled": N`` — but a refusal (≥ 400) or a
slow one (≥ ``SLOW_S``) is always logged whole.
What happened inside a request is logged by whoever knows (services, error handlers);
they get the request id for free through ``request_id_var``.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from litestar.enums import ScopeType
from litestar.logging.config import LoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "api.access"
REQUEST_ID_HEADER = "x-request-id"
_ID_HEADER = REQUEST_ID_HEADER.encode()

#: The current request's id, for every log record made while serving it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

#: What a caller-supplied id may look like; anything else is replaced (log injection).
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

#: A request this slow is always logged, quiet path or not.
SLOW_S = 1.0

#: LogRecord attributes that are not "extra" fields.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message, process id, the
    request id,
    every ``extra=`` field, and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker, when several serve
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str) -> LoggingConfig:
    """Litestar's logging configuration: JSON lines on stderr for the app's loggers."""
    return LoggingConfig(
        formatters={"json": {"()": JsonFormatter}},
        handlers={
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        loggers={
            "examengine": {"level": level, "handlers": ["json"], "propagate": True},
            "api": {"level": level, "handlers": ["json"], "propagate": True},
        },
        root={"level": "WARNING", "handlers": []},
        # Exceptions are logged once, by api.http.errors' 500 handler.
        log_exceptions="never",
        configure_root_logger=False,
        disable_existing_loggers=False,
    )


class RequestLog:
    """ASGI wrapper: request id in, request id out, one access line per HTTP request
    (one in ``sample`` on a path ``quiet`` matches, unless it failed or was slow)."""

    def __init__(
        self, app: ASGIApp, *, quiet: frozenset[str] = frozenset(), sample: int = 1
    ) -> None:
        self.app = app
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.quiet = quiet
        self.sample = max(1, sample)
        self._skipped = 0
        # Request ids: 64 random bits made once per app (each worker process makes its
        # own app) and a counter — unique, 32 hex characters, and no system call per
        # request (a getrandom for a uuid4 cost ~10 µs a request on these machines).
        self._id_prefix = secrets.token_hex(8)
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _sent_id(scope) or f"{self._id_prefix}{next(self._ids):016x}"
        scope["state"]["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # the app never sets this header itself: appended, not replaced
                message["headers"] = [
                    *message.get("headers", ()),
                    (_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            sampled = 1
            if status < 400 and duration < SLOW_S and scope["path"] in self.quiet:
                self._skipped += 1
                sampled = self._skipped
                if sampled < self.sample:
                    sampled = 0
                else:
                    self._skipped = 0
            if sampled and self.logger.isEnabledFor(logging.INFO):
                extra: dict[str, Any] = {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration * 1000, 3),
                }
                if sampled > 1:
                    extra["sampled"] = sampled  # this line stands for as many requests
                self.logger.info("%s %s %s", scope["method"], scope["path"], status, extra=extra)
            request_id_var.reset(token)


def _sent_id(scope: Scope) -> str | None:
    """The caller's request id, when it sent a sane one."""
    for name, value in scope["headers"]:
        if name == _ID_HEADER:
            candidate = value.decode("latin-1")
            return candidate if _SANE_ID.fullmatch(candidate) else None
    return None
