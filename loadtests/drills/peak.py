"""What every drill shares: a fresh database and the load-test exam prepared with the
project's own command, ``examengine serve`` started on it, learners who sign in, start
and save answers over HTTP as a browser does (a batch that gets no answer or a 503 is
sent again later with the same sequence numbers), then submit; and the ledger check
(``loadtests.ledger``) over what the server acknowledged.

The drills speak HTTP to the server and SQL only through the ledger check, as an auditor
would; they import the runner's helpers (``loadtests.run``) and nothing of the app.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from loadtests.ledger import Report, check
from loadtests.run import EXAM_KEY, HERE, ROOT, examengine, free_port, ready

PREFIX = "drill-"
PASSWORD = "drill-pass-1"
EXAM_PATH = urllib.parse.quote(EXAM_KEY)


def prepare(env: dict[str, str], folder: Path, *, learners: int, exam_minutes: int) -> None:
    """Migrate, load the demo bank, publish the load-test exam ``exam_minutes`` long and
    make ``learners`` learners enrolled in it (``examengine`` commands, as an operator)."""
    examengine(env, "db", "upgrade")
    examengine(env, "demo", "load")
    spec = (HERE / "exam.yaml").read_text(encoding="utf-8")
    spec = spec.replace("duration_s: 240", f"duration_s: {exam_minutes * 60}")
    (folder / "exam.yaml").write_text(spec, encoding="utf-8")
    examengine(env, "exam", "publish", str(folder / "exam.yaml"))
    examengine(
        env, "demo", "learners", str(learners), "--prefix", PREFIX, "--password", PASSWORD,
        "--exam", EXAM_KEY,
    )  # fmt: skip


def server_env(folder: Path, database_url: str, *, workers: int, redis_url: str | None,
               redis_prefix: str = "") -> dict[str, str]:  # fmt: skip
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_VAR_DIR": str(folder / "var"),
        "EXAMENGINE_LOAD_TEST": "1",
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_PORT": str(free_port()),
        "EXAMENGINE_WORKERS": str(workers),
    }
    if redis_url:
        env["EXAMENGINE_REDIS_URL"] = redis_url
        env["EXAMENGINE_REDIS_PREFIX"] = redis_prefix
    return env


def serve(
    env: dict[str, str], log: IO[bytes], *, wait_s: float = 60
) -> tuple[subprocess.Popen[bytes], str]:
    """``examengine serve`` with ``env``, once it answers ``/ready``; and its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve"], env=env, cwd=ROOT, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{env['EXAMENGINE_PORT']}"
    deadline = time.monotonic() + wait_s
    while not ready(url):
        if server.poll() is not None or time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"the server did not start (see {log.name})")
        time.sleep(0.2)
    return server, url


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server drains), then SIGKILL of its process group if it hangs."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@dataclass
class Tally:
    """What the learners' requests got: statuses, transport errors, the slowest failure."""

    statuses: Counter[str] = field(default_factory=Counter)
    #: 503s without a Retry-After header (each is a problem: the browser cannot pace itself)
    no_retry_after: int = 0
    slowest_failure_s: float = 0.0
    acknowledged_after: dict[str, int] = field(default_factory=dict)

    def failed(self, what: str, seconds: float) -> None:
        self.statuses[what] += 1
        self.slowest_failure_s = max(self.slowest_failure_s, seconds)


@dataclass
class Learner:
    login: str
    attempt: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    #: (item, seq) → response of every save the server acknowledged
    acknowledged: dict[tuple[str, int], Any] = field(default_factory=dict)
    submitted: bool = False


def response_for(item: dict[str, Any], rng: random.Random) -> Any:
    options = [o["id"] for o in item.get("options", [])]
    match item["kind"]:
        case "single":
            return rng.choice(options)
        case "multiple":
            return sorted(rng.sample(options, rng.randint(1, len(options))))
        case "true_false":
            return rng.random() < 0.5
        case "fill_blank":
            return f"答案{rng.randint(1, 99)}"
        case _:
            return None


class Peak:
    """``count`` learners against ``url``: ``run`` until ``stop`` is set, then ``submit``."""

    def __init__(self, url: str, count: int, *, seed: int = 13, pause_s: float = 0.05) -> None:
        self.url = url
        self.learners = [Learner(f"{PREFIX}{n:05d}") for n in range(1, count + 1)]
        self.tally = Tally()
        self.rng = random.Random(seed)
        self.pause_s = pause_s
        self.marks: list[tuple[float, str]] = []  # (monotonic time, what happened)

    async def request(self, client: httpx.AsyncClient, learner: Learner, method: str,
                      path: str, body: Any = None) -> httpx.Response:  # fmt: skip
        """The request, sent again until the server answers other than 5xx: a transport
        error or a 503 is waited out (its Retry-After, capped for a drill) and retried;
        a lost login session (401) is signed in again."""
        while True:
            began = time.monotonic()
            try:
                answer = await client.request(method, path, json=body)
            except httpx.TransportError as error:
                self.tally.failed(type(error).__name__, time.monotonic() - began)
                await asyncio.sleep(0.2 + self.rng.random() * 0.3)
                continue
            took = time.monotonic() - began
            if answer.status_code == 401 and path != "/auth/login":
                self.tally.failed("401", took)
                await self.sign_in(client, learner)
                continue
            if answer.status_code >= 500:
                self.tally.failed(str(answer.status_code), took)
                retry = answer.headers.get("retry-after")
                if answer.status_code == 503 and retry is None:
                    self.tally.no_retry_after += 1
                wait = min(float(retry or 1), 1.0)
                await asyncio.sleep(wait * (0.5 + self.rng.random()))
                continue
            self.tally.statuses[str(answer.status_code)] += 1
            return answer

    async def sign_in(self, client: httpx.AsyncClient, learner: Learner) -> None:
        body = {"login": learner.login, "password": PASSWORD}
        answer = await self.request(client, learner, "POST", "/auth/login", body)
        assert answer.status_code == 200, answer.text

    async def start(self, client: httpx.AsyncClient, learner: Learner) -> None:
        await self.sign_in(client, learner)
        answer = await self.request(client, learner, "POST", f"/api/exams/{EXAM_PATH}/attempts",
                                    {"practice": False})  # fmt: skip
        if answer.status_code == 409:  # started, but the answer was lost: resume it
            mine = await self.request(client, learner, "GET", "/api/me/exams")
            [entry] = [e for e in mine.json()["exams"] if e["exam"] == EXAM_KEY]
            attempt = entry["open_attempt"]["attempt"]
            answer = await self.request(client, learner, "POST", f"/api/attempts/{attempt}/resume")
        assert answer.status_code in (200, 201), answer.text
        learner.attempt = answer.json()["attempt"]
        learner.items = answer.json()["items"]

    async def save(self, client: httpx.AsyncClient, learner: Learner, label: str) -> None:
        batch = []
        for item in self.rng.sample(learner.items, self.rng.randint(1, 3)):
            learner.seq += 1
            batch.append({"item": item["item"], "seq": learner.seq,
                          "response": response_for(item, self.rng)})  # fmt: skip
        answer = await self.request(client, learner, "POST",
                                    f"/api/attempts/{learner.attempt}/answers", batch)  # fmt: skip
        assert answer.status_code == 200, answer.text
        body = answer.json()
        done = {seq for _item, seq in (*body["accepted"], *body["repeated"])}
        for save in batch:
            if save["seq"] in done:
                learner.acknowledged[(save["item"], save["seq"])] = save["response"]
        self.tally.acknowledged_after[label] = self.tally.acknowledged_after.get(label, 0) + len(
            done
        )

    async def learner_run(self, learner: Learner, stop: asyncio.Event, phase: list[str]) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=15) as client:
            await self.start(client, learner)
            while not stop.is_set():
                await self.save(client, learner, phase[0])
                await asyncio.sleep(self.pause_s * (0.5 + self.rng.random()))
            answer = await self.request(client, learner, "POST",
                                        f"/api/attempts/{learner.attempt}/submit")  # fmt: skip
            assert answer.status_code == 200, answer.text
            learner.submitted = True

    def entries(self) -> list[dict[str, Any]]:
        """The ledger: every start, acknowledged save and submit."""
        out: list[dict[str, Any]] = []
        for learner in self.learners:
            out.append({"kind": "start", "attempt": learner.attempt})
            out += [
                {"kind": "save", "attempt": learner.attempt, "item": item, "seq": seq,
                 "response": response}
                for (item, seq), response in learner.acknowledged.items()
            ]  # fmt: skip
            if learner.submitted:
                out.append({"kind": "submit", "attempt": learner.attempt})
        return out

    def ledger(self, database_url: str) -> Report:
        return check(database_url, self.entries(), now_ms=int(time.time() * 1000))

    def summary(self) -> str:
        saves = sum(len(lr.acknowledged) for lr in self.learners)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.tally.statuses.items()))
        return (
            f"{len(self.learners)} learners, {saves} acknowledged saves; answers {statuses}; "
            f"slowest failure {self.tally.slowest_failure_s:.2f} s"
        )
