"""The synchronized exam start (locust, FastHttpUser), as a school's exam begins at 09:00.

Each simulated learner signs in and starts the exam at a random moment of the start
window (``LOADTEST_START_WINDOW_S``, 60 s), then changes an answer every
``LOADTEST_SAVE_MIN_S``–``LOADTEST_SAVE_MAX_S`` seconds (5–10 s: a stress pace; 30–90 s is
what a real learner does) and sends a heartbeat every 15 s, as the exam page does, until
the exam's time is up; ``LOADTEST_SUBMIT_SHARE`` of them submit before it. A 503 is
retried after its Retry-After with jitter, as the page does, and reported under its own
name (``save 503``: how fast refusals come); what the server
acknowledged goes into the ledger (``LOADTEST_LEDGER``: one JSON line per acknowledged
save, start and submit) that ``loadtests.ledger`` checks against the database after the
run. Logins are ``LOADTEST_PREFIX`` + a number from 1 (``examengine demo learners``).

Speaks HTTP only; run it through ``python -m loadtests.run`` (loadtests/README.md).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

PREFIX = os.environ.get("LOADTEST_PREFIX", "load-")
PASSWORD = os.environ.get("LOADTEST_PASSWORD", "load-test-1")
EXAM = os.environ.get("LOADTEST_EXAM", "压测-公需科目")
START_WINDOW_S = float(os.environ.get("LOADTEST_START_WINDOW_S", "60"))
SAVE_MIN_S = float(os.environ.get("LOADTEST_SAVE_MIN_S", "5"))
SAVE_MAX_S = float(os.environ.get("LOADTEST_SAVE_MAX_S", "10"))
HEARTBEAT_S = 15.0
SUBMIT_SHARE = float(os.environ.get("LOADTEST_SUBMIT_SHARE", "0.3"))
LEDGER = os.environ.get("LOADTEST_LEDGER", "ledger.jsonl")
#: Refusals retried before a step gives up (the page keeps trying; a run must end).
MAX_RETRIES = 20

_numbers = itertools.count(1)
_ledger: Any = None


@events.test_start.add_listener  # type: ignore[untyped-decorator]  # locust: untyped
def _open_ledger(environment: Environment, **_: Any) -> None:
    global _ledger
    _ledger = open(LEDGER, "a", encoding="utf-8")  # noqa: SIM115 (closed at test_stop)


@events.test_stop.add_listener  # type: ignore[untyped-decorator]  # locust: untyped
def _close_ledger(environment: Environment, **_: Any) -> None:
    if _ledger is not None:
        _ledger.close()


def record(kind: str, **fields: Any) -> None:
    """One acknowledged fact, for the ledger check."""
    if _ledger is not None:
        _ledger.write(json.dumps({"kind": kind, **fields}, ensure_ascii=False) + "\n")
        _ledger.flush()


def answer_of(item: dict[str, Any], n: int) -> Any:
    """A response of the right shape for ``item`` (the n-th change of it)."""
    kind = item["kind"]
    options = [o["id"] for o in item.get("options", ())]
    if kind == "single":
        return options[n % len(options)]
    if kind == "multiple":
        return sorted({options[n % len(options)], options[(n + 1) % len(options)]})
    if kind == "true_false":
        return n % 2 == 0
    if kind == "matching":
        return [
            item["answers"][(i + n) % len(item["answers"])] for i in range(len(item["prompts"]))
        ]
    return f"答案{n}"


class Learner(FastHttpUser):
    """One learner sitting the exam: sign in, start, save, heartbeat, maybe submit."""

    wait_time = constant(3600)  # one whole sitting per user

    def _post(self, url: str, body: Any, name: str) -> tuple[int, Any]:
        """POST with the page's retry of refusals; the final status and decoded reply."""
        for attempt in range(MAX_RETRIES + 1):
            with self.client.post(url, json=body, name=name, catch_response=True) as reply:
                status = reply.status_code
                if status == 503:
                    # Refusals are reported apart ("save 503"): their own latency.
                    reply.request_meta["name"] = f"{name} 503"
                if status == 503 and attempt < MAX_RETRIES:
                    reply.failure("503 refused (retried)")
                    wait = float(reply.headers.get("Retry-After", "1") or 1)
                    gevent.sleep(wait * (1 + random.random() / 2))
                    continue
                if status == 0:  # no answer: locust's timeout (60 s) or a closed connection
                    reply.failure(f"no answer: {getattr(reply, 'error', None)!r}"[:120])
                    return status, None
                if status >= 400:
                    reply.failure(f"{status} {reply.text[:120]}")
                    return status, None
                reply.success()
                try:
                    return status, reply.json()
                except ValueError:
                    return status, None
        return 503, None

    @task
    def sit(self) -> None:
        number = next(_numbers)
        login = f"{PREFIX}{number:05d}"
        gevent.sleep(random.uniform(0, START_WINDOW_S))
        status, _ = self._post("/auth/login", {"login": login, "password": PASSWORD}, "login")
        if status != 200:
            return
        status, paper = self._post(f"/api/exams/{EXAM}/attempts", {}, "start")
        if status != 201 or paper is None:
            return
        attempt = paper["attempt"]
        record("start", attempt=attempt, login=login)
        items = paper["items"]
        seq = paper["last_seq"]
        ends = time.time() + paper["seconds_left"]
        submits = random.random() < SUBMIT_SHARE
        submit_at = time.time() + random.uniform(0.3, 0.9) * paper["seconds_left"]
        next_beat = time.time() + HEARTBEAT_S
        next_save = time.time() + random.uniform(SAVE_MIN_S, SAVE_MAX_S)
        while True:
            # The page's heartbeat runs on its own clock, every 15 s whatever the pace of
            # the answers, so a connection is never idle longer than that.
            gevent.sleep(max(0.0, min(next_save, next_beat) - time.time()))
            if time.time() >= ends - 1:
                break
            if time.time() >= next_beat:
                self._post(f"/api/attempts/{attempt}/heartbeat", None, "heartbeat")
                next_beat = time.time() + HEARTBEAT_S
            if time.time() < next_save:
                continue
            next_save = time.time() + random.uniform(SAVE_MIN_S, SAVE_MAX_S)
            if submits and time.time() >= submit_at:
                status, result = self._post(
                    f"/api/attempts/{attempt}/submit", {"sent_ms": int(time.time() * 1000)},
                    "submit",
                )  # fmt: skip
                if status == 200 and result is not None:
                    record("submit", attempt=attempt, state=result.get("state"))
                return
            item = random.choice(items)
            seq += 1
            response = answer_of(item, seq)
            status, saved = self._post(
                f"/api/attempts/{attempt}/answers",
                [{"item": item["item"], "seq": seq, "response": response}],
                "save",
            )
            if status == 200 and saved is not None:
                for item_key, acked in [*saved["accepted"], *saved["repeated"]]:
                    record("save", attempt=attempt, item=item_key, seq=acked, response=response)
            elif status == 409:  # closed or past its deadline: the sitting is over
                return
