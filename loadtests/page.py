"""What every scenario shares: the run's settings (``LOADTEST_*`` environment variables),
the numbering of the accounts across locust processes, the ledger of what the server
acknowledged, and requests sent as the pages send them (api/web/static/js/api.js): a
refusal (503) is sent again after its Retry-After stretched by a random 0–50 %, and is
reported under its own name (``save 503``) apart from other errors.

Speaks HTTP only (loadtests/README.md).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser
from locust.env import Environment

#: Refusals retried before a step gives up (the page keeps trying; a run must end).
MAX_RETRIES = 20


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_range(name: str, default: str) -> tuple[float, float]:
    """``MIN-MAX`` seconds (or one number) from ``name``."""
    low, _, high = os.environ.get(name, default).partition("-")
    return float(low), float(high or low)


PASSWORD = os.environ.get("LOADTEST_PASSWORD", "load-test-1")
LEDGER = os.environ.get("LOADTEST_LEDGER", "ledger.jsonl")
#: Locust processes of the run: user numbers are spread over them (``number``).
PROCESSES = max(1, int(os.environ.get("LOADTEST_PROCESSES", "1")))
#: A folder shared by the locust processes of one machine: the numbers are drawn from a
#: counter file there (``number``).
NUMBERS = os.environ.get("LOADTEST_NUMBERS", "")

_counters: dict[str, Iterator[int]] = {}
_seeded_in = 0
_ledger: Any = None
_lock = threading.Lock()


def number(environment: Environment, kind: str) -> int:
    """The next account number (from 1) of ``kind``, never the same twice in a run.

    With ``LOADTEST_NUMBERS`` (``loadtests.run`` sets it) the locust processes of this
    machine draw from one counter file under a lock, so the numbers run 1…N whatever
    the number of users each process was given; without it (locust workers on several
    machines) process ``i`` of ``LOADTEST_PROCESSES`` takes ``i + 1``, ``i + 1 + P``, …
    (the master may give a process more users than its share: prepare spare accounts).
    """
    global _seeded_in
    if _seeded_in != os.getpid():  # locust's processes are forks: each its own chances
        random.seed(os.urandom(16))
        _seeded_in = os.getpid()
    if NUMBERS:
        with open(Path(NUMBERS) / f"{kind}.count", "a+", encoding="ascii") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.seek(0)
            taken = int(file.read() or 0) + 1
            file.seek(0)
            file.truncate()
            file.write(str(taken))
            return taken
    runner = environment.runner
    index = int(getattr(runner, "worker_index", 0) or 0) % PROCESSES
    counter = _counters.setdefault(kind, itertools.count(0))
    return next(counter) * PROCESSES + index + 1


def record(kind: str, **fields: Any) -> None:
    """One acknowledged fact, for the ledger check: a JSON line appended to
    ``LOADTEST_LEDGER`` (one write per line in append mode, so that several locust
    processes can share the file)."""
    global _ledger
    with _lock:
        if _ledger is None:
            _ledger = open(LEDGER, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        _ledger.write(json.dumps({"kind": kind, **fields}, ensure_ascii=False) + "\n")


def backoff(retry_after: str | None, fallback_s: float) -> float:
    """Seconds to wait before sending again: the server's Retry-After (at least
    ``fallback_s``) stretched by a random 0–50 %, as api.js's ``backoff`` does."""
    try:
        base = max(float(retry_after or 0), fallback_s)
    except ValueError:
        base = fallback_s
    return base * (1 + random.random() / 2)


class PageUser(FastHttpUser):
    """A browser page: requests with the pages' retry of refusals."""

    abstract = True

    def send(
        self, method: str, url: str, body: Any, name: str, *, expected: tuple[int, ...] = (),
        retries: int = MAX_RETRIES,
    ) -> tuple[int, Any]:  # fmt: skip
        """Send with the page's retry of refusals; the final status and decoded reply.
        Statuses in ``expected`` (a 409 the page handles) are not counted as failures."""
        for attempt in range(retries + 1):
            kwargs: dict[str, Any] = {"name": name, "catch_response": True}
            if body is not None:
                kwargs["json"] = body
            with self.client.request(method, url, **kwargs) as reply:
                status = reply.status_code
                if status == 503:  # reported apart; sent again here or by the caller
                    reply.request_meta["name"] = f"{name} 503"
                    if attempt < retries or retries == 0:
                        reply.failure("503 refused (retried)")
                    if attempt < retries:
                        gevent.sleep(backoff(reply.headers.get("Retry-After"), 1.0))
                        continue
                    if retries:  # the learner gave up: an error, not a refusal
                        reply.failure(f"gave up after {retries} refusals (503)")
                    return status, None
                if status == 0:  # no answer: locust's timeout or a closed connection
                    reply.failure(f"no answer: {getattr(reply, 'error', None)!r}"[:120])
                    return status, None
                if status in expected:
                    reply.success()
                    return status, _json(reply)
                if status >= 400:
                    reply.failure(f"{status} {reply.text[:120] if reply.text else ''}")
                    return status, _json(reply)
                reply.success()
                return status, _json(reply)
        return 503, None

    def sign_in(self, login: str) -> bool:
        status, _ = self.send(
            "POST", "/auth/login", {"login": login, "password": PASSWORD}, "login"
        )
        return status == 200


def _json(reply: Any) -> Any:
    try:
        return reply.json()
    except (ValueError, TypeError):
        return None
