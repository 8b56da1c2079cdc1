"""``Studier``: a learner studying the load-test plan's chapters, as the study page does
(api/web/static/js/study.js), under the anti-idle challenges.

Signs in (``study-00001`` …), reads ``/api/me/plans``, starts the first chapter not yet
complete, and plays it: a heartbeat every ``heartbeat_s`` the server names (the real
interval, 15 s) with the position advancing in real time, and the Server-Sent Events
stream (``/api/study/events``) open beside it, as the page's EventSource is. A challenge
comes on the stream or in a heartbeat reply; the learner answers it after 1–5 s of
thought (a question's key stays on the server, so a wrong option is refused and the next
one tried, as a learner would), or — ``LOADTEST_MISS_SHARE`` of the challenges — lets it
run out: the server records it missed, voids the open segment and pauses the chapter;
the learner notices, waits a little and starts the chapter again (the page's restart
button). A complete chapter moves the learner on to the next.

The ledger gets each session started (``study_start``: the learner's first moment of
study, the bound of the credit check) and each answer the server queued (``ack``); the
ledger check then finds every challenge issued answered or recorded missed, and no
credit beyond the time that passed.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent
from gevent.queue import Empty, Queue
from locust import constant, task

if __package__ in (None, ""):  # loaded by path as a locustfile: the repository's root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.page import PageUser, env_float, number, record

MISS_SHARE = env_float("LOADTEST_MISS_SHARE", 0.2)
WEIGHT = int(env_float("LOADTEST_WEIGHT_STUDY", 30))
FIXED = int(env_float("LOADTEST_COUNT_STUDY", 0))
#: The study page looks again 1.2 s after a challenge ran out (study.js ``timedOut``).
AFTER_TIMEOUT_S = 1.2


class Studier(PageUser):
    """One learner studying chapter after chapter."""

    wait_time = constant(1)
    weight = WEIGHT
    fixed_count = FIXED

    def on_start(self) -> None:
        self.login = f"study-{number(self.environment, 'study'):05d}"
        self.signed_in = self.sign_in(self.login)
        self.done: set[tuple[str, int, bool]] = set()
        self.chapter = ""

    @task
    def study(self) -> None:
        if not self.signed_in:
            self.signed_in = self.sign_in(self.login)
            gevent.sleep(5)
            return
        chapter = self.next_chapter()
        if chapter is None:  # everything complete: the plan is done
            gevent.sleep(60)
            return
        self.play(chapter)

    def next_chapter(self) -> str | None:
        status, plans = self.send("GET", "/api/me/plans", None, "my plans")
        if status != 200 or not plans:
            return None
        for entry in plans["plans"]:
            for course in entry["progress"]["courses"]:
                for chapter in course["chapters"]:
                    if not chapter["complete"]:
                        return str(chapter["chapter"])
        return None

    def play(self, chapter: str) -> None:
        """One session on ``chapter``: until it completes, pauses after a miss or ends."""
        status, reply = self.send("POST", f"/api/study/{quote(chapter)}/start", None,
                                  "study start")  # fmt: skip
        if status != 200 or reply is None:
            gevent.sleep(5)
            return
        self.chapter = chapter
        self.done = set()  # challenge numbers are the session's
        record("study_start", login=self.login, chapter=chapter, at_ms=int(time.time() * 1000))
        challenges: Queue[dict[str, Any]] = Queue()
        listener = gevent.spawn(self.listen, reply["token"], challenges)
        try:
            self.session(reply, challenges)
        finally:
            listener.kill(block=False)

    def session(self, reply: dict[str, Any], challenges: Queue[dict[str, Any]]) -> None:
        token = reply["token"]
        position = int(reply["position_ms"])
        if position >= reply["duration_s"] * 1000:
            position = 0
        last = time.time()
        every = max(1, int(reply.get("heartbeat_s") or 15))
        next_beat = last  # the learner presses play: the page beats at once
        state = reply["state"]
        if reply.get("challenge"):
            challenges.put(reply["challenge"])
        while state in ("active", "closing"):
            try:
                challenge = challenges.get(timeout=max(0.0, next_beat - time.time()))
            except Empty:
                challenge = None
            if challenge is not None and self.face(token, challenge):
                next_beat = time.time()
            if time.time() < next_beat:
                continue
            position += int((time.time() - last) * 1000)
            last = time.time()
            status, reply = self.send(
                "POST", "/api/study/heartbeat",
                {"token": token, "position_ms": min(position, 24 * 3600 * 1000), "playing": True},
                "study heartbeat", expected=(409,),
            )  # fmt: skip
            if status != 200 or reply is None:
                return
            token, state = reply["token"], reply["state"]
            next_beat = time.time() + every
            if reply.get("challenge"):
                challenges.put(reply["challenge"])
        if state == "paused":  # a miss voided the segment: restart after a moment
            gevent.sleep(random.uniform(2, 8))

    def face(self, token: str, challenge: dict[str, Any]) -> bool:
        """Answer ``challenge`` (trying options until one is right) or let it run out;
        True when the page beats at once: after an answer queued, or (1.2 s) after the
        window ran out."""
        seq = int(challenge["seq"])
        seen = (self.chapter, seq, bool(challenge["closing"]))
        if seen in self.done:
            return False
        self.done.add(seen)
        if random.random() < MISS_SHARE:
            # Away from the screen: the window runs out, the page looks again after it.
            gevent.sleep(max(0.0, challenge["expires_ms"] / 1000 - time.time()) + AFTER_TIMEOUT_S)
            return True
        # 1-5 s of thought, within the window (a learner at the screen answers in time).
        left = challenge["expires_ms"] / 1000 - time.time()
        gevent.sleep(random.uniform(1, max(1.0, min(5.0, left / 2))))
        options = [o["id"] for o in challenge.get("options", ())] or ["continue"]
        random.shuffle(options)
        for answer in options:
            status, reply = self.send(
                "POST", "/api/study/ack", {"token": token, "seq": seq, "answer": answer},
                "study ack", expected=(409, 422),
            )  # fmt: skip
            if status == 200 and reply is not None:
                record("ack", login=self.login, chapter=self.chapter, seq=seq,
                       closing=bool(challenge["closing"]),
                       at_ms=int(reply["server_ms"]))  # fmt: skip
                return True
            code = reply.get("code") if isinstance(reply, dict) else None
            if code != "wrong_answer":
                return False
            gevent.sleep(random.uniform(0.5, 2))
        return False

    def listen(self, token: str, challenges: Queue[dict[str, Any]]) -> None:
        """The page's EventSource: challenges as they are issued; reconnects after the
        server's ``retry`` when the stream closes while the session lives."""
        while True:
            event = ""
            try:
                # Reported when the headers arrive (a stream lasts as long as the session).
                stream = self.client.get(
                    f"/api/study/events?token={quote(token)}", name="study events", stream=True
                )
                if stream.status_code not in (200, 503):
                    return  # the session ended: the page stops listening
                if stream.status_code == 200:
                    # Line by line as they come (``iter_content`` waits for full chunks).
                    raw = stream._response
                    assert raw is not None  # a streamed reply keeps its socket response
                    block: list[str] = []
                    while line := raw.readline(b"\n"):
                        text = line.decode("utf-8", "replace").rstrip("\r\n")
                        if text:
                            block.append(text)
                            continue
                        event, data = _event(block)
                        block = []
                        if event == "challenge":
                            challenges.put(json.loads(data))
                        elif event == "ended":
                            return
            except Exception:  # a read timeout or a closed connection: reconnect
                pass
            if event == "ended":
                return
            gevent.sleep(2)  # the page's EventSource reconnects after ``retry`` (2 s)


def _event(block: list[str]) -> tuple[str, str]:
    event, data = "message", []
    for line in block:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return event, "\n".join(data)
