"""``ExamTaker``: the synchronized exam start (locust, FastHttpUser), as a school's exam
begins at 09:00, and the sitting that follows, as the exam page does it.

- **Arrival and the start.** Each learner signs in at a random moment before the exam
  opens (``LOADTEST_OPEN_AT``, epoch seconds; default: the start of the run plus
  ``LOADTEST_SYNC_S``), waits for the opening (the synchronizing delay) and presses
  start after a Gaussian delay (``|N(0, window/3)|``, cut at ``LOADTEST_START_WINDOW_S``):
  real arrivals bunch in the first seconds and thin out. A refusal (503) is sent again
  after its Retry-After with jitter (api.js). An ``attempt_open`` answer resumes the
  open attempt, as the rules page does. Then the exam page loads (``exam page``).
- **Answers** (queue.js): every ``LOADTEST_SAVE_MIN_S``–``LOADTEST_SAVE_MAX_S`` seconds of
  thinking the learner changes one to three answers; each change takes the next client
  sequence number and the queue sends what is pending in one batch (at most 100), one
  request at a time; a refusal or a lost connection is retried with exponential
  back-off (at least the Retry-After, at most 15 s, jitter).
- **Heartbeat** on its own clock, every ``LOADTEST_HEARTBEAT_S`` (15 s; the page's
  own interval is 30 s: ``--profile realistic``), whatever the pace of the answers.
- **Interruptions.** ``LOADTEST_OFFLINE_SHARE`` of the learners lose the network once
  for ``LOADTEST_OFFLINE_S`` (MIN-MAX): their changes wait in the queue and are replayed
  in order when it is back. ``LOADTEST_RELOAD_SHARE`` reload the page once (the queue
  survives in the browser); ``LOADTEST_RESUME_SHARE`` move to another device once: a
  new sign-in, ``start`` answers ``attempt_open``, ``resume`` takes the attempt and the
  numbering goes on after the server's ``last_seq``.
- **The end.** ``LOADTEST_NEVER_SUBMIT_SHARE`` never submit (they leave when the time is
  up: the sweeper must close their attempt); the others drain the queue and submit at a
  random moment of the sitting, then load the result page.

What the server acknowledged goes into the ledger (``LOADTEST_LEDGER``: start, each
acknowledged save with its value, submit) that ``loadtests.ledger`` checks against the
database after the run. Logins are ``LOADTEST_PREFIX`` + a number from 1
(``examengine loadtest prepare``). Run it through ``python -m loadtests.run``
(loadtests/README.md), or ``locust -f loadtests/exam_start.py`` against a prepared server.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent
from locust import constant, events, task
from locust.env import Environment

if __package__ in (None, ""):  # loaded by path as a locustfile: the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.answers import answer_of
from loadtests.page import PageUser, backoff, env_float, env_range, number, record

PREFIX = os.environ.get("LOADTEST_PREFIX", "load-")
EXAM = os.environ.get("LOADTEST_EXAM", "压测-公需科目")
SYNC_S = env_float("LOADTEST_SYNC_S", 0)
START_WINDOW_S = env_float("LOADTEST_START_WINDOW_S", 60)
SAVE_MIN_S, SAVE_MAX_S = (
    env_float("LOADTEST_SAVE_MIN_S", 5),
    env_float("LOADTEST_SAVE_MAX_S", 10),
)
HEARTBEAT_S = env_float("LOADTEST_HEARTBEAT_S", 15)
#: The older setting: the share that submits (the rest never does).
NEVER_SUBMIT_SHARE = env_float(
    "LOADTEST_NEVER_SUBMIT_SHARE", 1 - env_float("LOADTEST_SUBMIT_SHARE", 0.8)
)
#: When the run ends (epoch seconds, ``loadtests.run`` sets it): the sitting's moments
#: (submit, interruptions) fall before it, so that a short run sees them.
RUN_ENDS_AT = env_float("LOADTEST_RUN_ENDS_AT", 0)
OFFLINE_SHARE = env_float("LOADTEST_OFFLINE_SHARE", 0.1)
OFFLINE_S = env_range("LOADTEST_OFFLINE_S", "10-30")
RELOAD_SHARE = env_float("LOADTEST_RELOAD_SHARE", 0.1)
RESUME_SHARE = env_float("LOADTEST_RESUME_SHARE", 0.05)
WEIGHT = int(env_float("LOADTEST_WEIGHT_EXAM", 100))
FIXED = int(env_float("LOADTEST_COUNT_EXAM", 0))
#: queue.js: changes per request, and the longest back-off.
BATCH = 100
MAX_BACKOFF_S = 15.0

_open_at: float | None = None


@events.test_start.add_listener  # type: ignore[untyped-decorator]  # locust: untyped
def _opening(environment: Environment, **_: Any) -> None:
    global _open_at
    given = os.environ.get("LOADTEST_OPEN_AT")
    _open_at = float(given) if given else time.time() + SYNC_S


class ExamTaker(PageUser):
    """One learner sitting the exam: sign in, start, answer, heartbeat, submit (or not)."""

    wait_time = constant(3600)  # one whole sitting per user
    weight = WEIGHT
    fixed_count = FIXED

    def on_start(self) -> None:
        self.login = f"{PREFIX}{number(self.environment, 'exam'):05d}"
        self.pending: list[dict[str, Any]] = []
        self.seq = 0
        self.failures = 0
        self.closed = False

    # ------------------------------------------------------------------ the start
    def arrive_and_start(self) -> dict[str, Any] | None:
        open_at = _open_at if _open_at is not None else time.time()
        gevent.sleep(random.uniform(0, max(0.0, open_at - time.time())))
        if not self.sign_in(self.login):
            return None
        gevent.sleep(max(0.0, open_at - time.time()))  # the synchronizing delay
        gevent.sleep(min(START_WINDOW_S, abs(random.gauss(0, START_WINDOW_S / 3))))
        return self.start_or_resume()

    def start_or_resume(self) -> dict[str, Any] | None:
        status, paper = self.send(
            "POST", f"/api/exams/{quote(EXAM)}/attempts", {}, "start", expected=(409,)
        )
        if status == 201 and paper is not None:
            record("start", attempt=paper["attempt"], login=self.login,
                   deadline_ms=paper["deadline_ms"])  # fmt: skip
            return dict(paper)
        open_attempt = _open_attempt(paper) if status == 409 else None
        if open_attempt is None:
            return None
        status, paper = self.send("POST", f"/api/attempts/{open_attempt}/resume", None, "resume")
        return dict(paper) if status == 200 and paper is not None else None

    def load_page(self, attempt: str, name: str = "exam page") -> None:
        self.send("GET", f"/learner/attempts/{attempt}", None, name)

    # ------------------------------------------------------------------ the queue
    def change(self, items: list[dict[str, Any]]) -> None:
        item = random.choice(items)
        self.seq += 1
        self.pending.append(
            {"item": item["item"], "seq": self.seq, "response": answer_of(item, self.seq)}
        )

    def flush(self, attempt: str, *, deadline: float) -> bool:
        """Send what is pending, batch by batch, until it is sent or ``deadline``;
        False once the attempt takes no saves (409: closed, past its deadline, moved)."""
        while self.pending and not self.closed and time.time() < deadline:
            batch = self.pending[:BATCH]
            status, saved = self.send(
                "POST", f"/api/attempts/{attempt}/answers", batch, "save",
                expected=(409,), retries=0,
            )  # fmt: skip
            if status == 200 and saved is not None:
                sent = {(s["item"], s["seq"]): s["response"] for s in batch}
                for item_key, acked in [*saved["accepted"], *saved["repeated"]]:
                    record("save", attempt=attempt, item=item_key, seq=acked,
                           response=sent.get((item_key, acked)))  # fmt: skip
                del self.pending[: len(batch)]
                self.failures = 0
            elif status == 409:
                self.closed = True
            elif status in (0, 429) or status >= 500:
                self.failures += 1
                fallback = min(MAX_BACKOFF_S, 0.5 * 2 ** min(self.failures, 6))
                gevent.sleep(min(MAX_BACKOFF_S, backoff(None, fallback)))
            else:  # refused for good (the page shows the error and stops saving)
                self.closed = True
        return not self.closed

    # ------------------------------------------------------------------ the sitting
    @task
    def sit(self) -> None:
        paper = self.arrive_and_start()
        if paper is None:
            return
        attempt = paper["attempt"]
        self.seq = paper["last_seq"]
        self.load_page(attempt)
        items = list(paper["items"])
        began = time.time()
        ends = began + paper["seconds_left"]
        span = max(1.0, min(ends, RUN_ENDS_AT or ends) - began)
        submit_at = None
        if random.random() >= NEVER_SUBMIT_SHARE:
            submit_at = began + random.uniform(0.3, 0.9) * span
        moments = {
            name: began + random.uniform(0.1, 0.7) * span if random.random() < share else None
            for name, share in (
                ("offline", OFFLINE_SHARE), ("reload", RELOAD_SHARE), ("resume", RESUME_SHARE)
            )
        }  # fmt: skip
        offline_until = 0.0
        self.heartbeat(attempt)  # the page beats once on load
        next_beat = time.time() + HEARTBEAT_S
        next_change = time.time() + random.uniform(SAVE_MIN_S, SAVE_MAX_S)
        while not self.closed:
            gevent.sleep(max(0.0, min(next_change, next_beat) - time.time()))
            now = time.time()
            if now >= ends - 1:
                break
            online = now >= offline_until
            if moments["offline"] is not None and now >= moments["offline"]:
                moments["offline"] = None
                offline_until = now + random.uniform(*OFFLINE_S)
                online = False
            if online and moments["reload"] is not None and now >= moments["reload"]:
                moments["reload"] = None
                self.load_page(attempt, "exam page (reload)")
            if online and moments["resume"] is not None and now >= moments["resume"]:
                moments["resume"] = None
                attempt, items = self.other_device(attempt, items)
                if attempt is None:
                    return
            if now >= next_beat:
                if online:
                    self.heartbeat(attempt)
                next_beat = now + HEARTBEAT_S
            if now < next_change:
                continue
            next_change = now + random.uniform(SAVE_MIN_S, SAVE_MAX_S)
            if submit_at is not None and now >= submit_at and online:
                self.submit(attempt, ends)
                return
            for _ in range(random.choice((1, 1, 1, 2, 3))):
                self.change(items)
            if online:  # offline: the changes wait in the queue, replayed when it is back
                self.flush(attempt, deadline=ends)

    def heartbeat(self, attempt: str) -> None:
        status, beat = self.send(
            "POST", f"/api/attempts/{attempt}/heartbeat", None, "heartbeat", expected=(409,)
        )
        state = beat.get("state") if status == 200 and isinstance(beat, dict) else None
        if status in (404, 409) or state not in (None, "in_progress", "overdue"):
            self.closed = True

    def other_device(
        self, attempt: str, items: list[dict[str, Any]]
    ) -> tuple[Any, list[dict[str, Any]]]:
        """The learner moves to another device: what this one had not sent is lost with
        it (nothing acknowledged is); the new one numbers after the server's last_seq."""
        self.client.cookiejar.clear()
        self.pending = []
        if not self.sign_in(self.login):
            return None, items
        paper = self.start_or_resume()
        if paper is None or paper["attempt"] != attempt:
            return None, items
        self.seq = paper["last_seq"]
        self.load_page(attempt)
        return attempt, list(paper["items"])

    def submit(self, attempt: str, ends: float) -> None:
        """As the page: drain the queue (8 s at most), then submit, then the result page."""
        if not self.flush(attempt, deadline=min(ends, time.time() + 8)):
            return
        status, result = self.send(
            "POST", f"/api/attempts/{attempt}/submit", {"sent_ms": int(time.time() * 1000)},
            "submit", expected=(409,),
        )  # fmt: skip
        if status == 200 and result is not None:
            record("submit", attempt=attempt, state=result.get("state"))
            self.send("GET", f"/learner/attempts/{attempt}/result", None, "result page")


def _open_attempt(problem: Any) -> str | None:
    """The open attempt named by an ``attempt_open`` refusal (as start.js reads it)."""
    if not isinstance(problem, dict) or problem.get("code") != "attempt_open":
        return None
    errors = problem.get("errors") or [{}]
    found = errors[0].get("open_attempt") if isinstance(errors[0], dict) else None
    return str(found) if found else None
