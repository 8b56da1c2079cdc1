"""The Redis restart drill: Redis restarted mid-study (AOF on), and nothing is lost.

Starts its own ``redis-server`` on a free port as the deployment runs it (``--appendonly
yes --appendfsync everysec``, nothing else on disk), a fresh SQLite (or the given)
database with the demo plan and ``--learners`` learners, and a real ``examengine serve``
with several workers over that Redis. The learners sign in and study a chapter as the
page does: a heartbeat every half second, each challenge answered as it appears (a wrong
option is tried again, a 503 is retried). Mid-study Redis is restarted — once with a clean
``SHUTDOWN`` and once with ``kill -9`` by default — and stays away for ``--outage-s``.

What it checks (and the test, tests/load/test_redis_restart.py, asserts):

- the learners stay signed in: their login sessions are in Redis, and the AOF brings them
  back (without it every learner would be signed out by a restart) — each learner reads
  its sign-in (``/auth/me``) every other heartbeat, as the study page renews it (a
  heartbeat itself reads no login session: decision 0022);
- the app keeps answering while Redis is away: 200, or 503 + Retry-After for what needs
  Redis (a request relayed to another worker, a sign-in), never a 500, never a hang (every
  request has a 10 s limit), and it recovers by itself (``/ready`` is 200 again);
- armed challenges carry on: each learner's challenges keep coming after the restarts,
  numbered one after another; none issued twice (no number recorded twice in the study
  log), none lost (every challenge recorded issued was recorded passed — every learner
  answered in time — except one still open when the drill stopped).

The study log read at the end is the database's ``study_event`` table, with SQL of its own
(as loadtests/ledger.py reads the answers). Run it::

    python -m loadtests.drills.redis_restart --learners 40 --restarts shutdown,kill
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "drill-redis-"
PASSWORD = "redis-drill-1"
PLAN = "2026-公需科目-演示计划"
CHAPTER = "demo-law-1"
#: Challenge timing of the drill's server: one every 2–3 s, 8 s to answer (longer than an
#: outage plus the retries, so an answer delayed by the restart is still in time).
CHALLENGE_MIN_S, CHALLENGE_MAX_S, WINDOW_S = 2, 3, 8
BEAT_S = 0.5
#: Every so many heartbeats a learner reads its sign-in (``/auth/me``), as the study page
#: renews it: the check that nobody was signed out, and a request that needs Redis.
SIGN_IN_CHECK_EVERY = 2
REQUEST_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- Redis, as the deployment runs it ------------------------------------------------


class Redis:
    """A redis-server of the drill's own, in the foreground (its PID is ours to signal),
    with the append-only file in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start (see {self.folder}/redis.log)")
            time.sleep(0.05)

    def stop(self, how: str) -> None:
        """``shutdown``: a clean SHUTDOWN (the AOF is fsynced); ``kill``: SIGKILL."""
        assert self.process is not None
        if how == "shutdown":
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "shutdown"],
                capture_output=True, timeout=15, check=False,
            )  # fmt: skip
        else:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(15)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(15)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# -- the app -----------------------------------------------------------------------


def server_env(folder: Path, database_url: str, redis_url: str, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(folder / "var"),
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_REDIS_URL": redis_url,
        "EXAMENGINE_REDIS_PREFIX": "drill",
        "EXAMENGINE_PORT": str(port),
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_LOAD_TEST": "1",
        "EXAMENGINE_CHALLENGE_MIN_S": str(CHALLENGE_MIN_S),
        "EXAMENGINE_CHALLENGE_MAX_S": str(CHALLENGE_MAX_S),
        "EXAMENGINE_CHALLENGE_WINDOW_S": str(WINDOW_S),
        "EXAMENGINE_STUDY_FLUSH_MS": "1000",
    }


def examengine(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args], env=env, cwd=ROOT, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def prepare(env: dict[str, str], learners: int) -> list[str]:
    """The demo data, ``learners`` learners enrolled in the demo plan; their logins."""
    examengine(env, "db", "upgrade")
    examengine(env, "demo", "load")
    examengine(env, "demo", "learners", str(learners), "--prefix", PREFIX, "--password", PASSWORD)
    logins = [f"{PREFIX}{n:05d}" for n in range(1, learners + 1)]
    examengine(env, "plan", "enroll", "--plan", PLAN, *logins)
    service_policy(env["EXAMENGINE_DATABASE_URL"])
    return logins


def service_policy(database_url: str) -> None:
    """The demo plan studied under the service's policy (the drill's timing, set in the
    server's environment) rather than its own, the demo's 20–50 s (decision 0033)."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as db:
            db.execute(sa.text("UPDATE plan SET challenge = NULL WHERE key = :key"), {"key": PLAN})
    finally:
        engine.dispose()


def serve(env: dict[str, str], workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve", "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{env['EXAMENGINE_PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        if ready(url):
            return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not become ready (see {log.name})")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# -- the learners --------------------------------------------------------------------


@dataclass
class Learner:
    login: str
    #: every reply's status (and problem code for 4xx/5xx), counted
    replies: Counter[str] = field(default_factory=Counter)
    #: the challenges seen (seq → expires_ms) and those whose answer was taken
    seen: dict[int, int] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)
    #: what must not happen: a 500, a hang, a sign-out, a session that ended
    problems: list[str] = field(default_factory=list)


async def _post(client: httpx.AsyncClient, learner: Learner, path: str, body: Any) -> Any:
    """The reply's JSON when 200; None otherwise (counted, and noted if it must not be)."""
    return await _request(client, learner, "POST", path, body)


async def _request(
    client: httpx.AsyncClient, learner: Learner, method: str, path: str, body: Any = None
) -> Any:
    """``_post`` for any method (``body`` None: none sent)."""
    try:
        reply = await client.request(method, path, json=body)
    except httpx.TimeoutException:
        learner.problems.append(f"{path}: no answer within {REQUEST_TIMEOUT_S} s (a hang)")
        return None
    except httpx.TransportError as error:
        learner.problems.append(f"{path}: {type(error).__name__}")
        return None
    if reply.status_code == 200:
        learner.replies["200"] += 1
        return reply.json()
    code = reply.json().get("code", "") if "json" in reply.headers.get("content-type", "") else ""
    learner.replies[f"{reply.status_code} {code}".strip()] += 1
    if reply.status_code == 503 and "retry-after" not in reply.headers:
        learner.problems.append(f"{path}: 503 without Retry-After")
    if reply.status_code >= 500 and reply.status_code != 503:
        learner.problems.append(f"{path}: {reply.status_code} {reply.text[:200]}")
    elif reply.status_code in (401, 403):
        learner.problems.append(f"{path}: {reply.status_code}: signed out (the session was lost)")
    elif code == "session_ended":
        learner.problems.append(f"{path}: the study session ended")
    return None


async def _answer(
    client: httpx.AsyncClient, learner: Learner, token: str, challenge: dict[str, Any]
) -> None:
    seq = int(challenge["seq"])
    learner.seen.setdefault(seq, int(challenge["expires_ms"]))
    if seq in learner.answered:
        return
    for option in challenge["options"]:
        body = {"token": token, "seq": seq, "answer": option["id"]}
        try:
            reply = await client.post("/api/study/ack", json=body)
        except httpx.HTTPError as error:
            learner.problems.append(f"/api/study/ack: {type(error).__name__}")
            return
        code = reply.json().get("code", "") if reply.status_code != 200 else ""
        learner.replies[f"{reply.status_code} {code}".strip()] += 1
        if reply.status_code == 200:
            learner.answered.add(seq)
            return
        if code != "wrong_answer":  # 503 (Redis away): the next heartbeat tries again
            if reply.status_code >= 500 and reply.status_code != 503:
                learner.problems.append(f"/api/study/ack: {reply.status_code}")
            return


async def study(url: str, learner: Learner, stop: asyncio.Event) -> None:
    """Sign in, start the chapter, then beat and answer each challenge until ``stop``."""
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        signed = await _post(client, learner, "/auth/login",
                             {"login": learner.login, "password": PASSWORD})  # fmt: skip
        started = (
            await _post(client, learner, f"/api/study/{CHAPTER}/start", {}) if signed else None
        )
        if started is None:
            learner.problems.append("could not sign in and start before the drill")
            return
        token, began = started["token"], time.monotonic()
        beats = 0
        while not stop.is_set():
            position = int((time.monotonic() - began) * 1000)
            body = {"token": token, "position_ms": position, "playing": True}
            status = await _post(client, learner, "/api/study/heartbeat", body)
            if status is not None and status.get("challenge"):
                await _answer(client, learner, token, status["challenge"])
            beats += 1
            if beats % SIGN_IN_CHECK_EVERY == 0:
                # A heartbeat reads no login session (decision 0022); the page renews
                # its sign-in now and then, which does: 401 here is a lost sign-in, 503
                # is Redis away
                await _request(client, learner, "GET", "/auth/me")
            await asyncio.sleep(BEAT_S)


# -- the drill -----------------------------------------------------------------------


@dataclass
class Report:
    learners: list[Learner]
    restarts: list[str]
    #: problems found in the study log (issued twice, issued and never passed, missed)
    log_problems: list[str]
    #: challenges issued per learner before the first restart and after the last one
    issued_before: int
    issued_after: int
    recovered_s: list[float]

    @property
    def problems(self) -> list[str]:
        found = [f"{lr.login}: {p}" for lr in self.learners for p in lr.problems]
        return found + self.log_problems

    def summary(self) -> str:
        replies: Counter[str] = Counter()
        for learner in self.learners:
            replies.update(learner.replies)
        lines = [
            f"Redis restart drill: {len(self.learners)} learners, restarts: "
            f"{', '.join(self.restarts)}",
            "replies: " + ", ".join(f"{k} × {v}" for k, v in sorted(replies.items())),
            f"challenges issued: {self.issued_before} before the first restart, "
            f"{self.issued_after} after the last",
            "ready again after: " + ", ".join(f"{s:.1f} s" for s in self.recovered_s),
            f"problems: {len(self.problems)}",
            *(f"  - {p}" for p in self.problems[:30]),
        ]
        return "\n".join(lines)


def read_study_log(database_url: str, logins: Sequence[str]) -> list[tuple[str, str, int, int]]:
    """(login, kind, seq, at_ms) of every challenge event of the drill's learners."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT u.login, e.kind, e.seq, e.at_ms FROM study_event e "
                    'JOIN "user" u ON u.id = e.learner_id '
                    "WHERE e.kind LIKE 'challenge_%' AND u.login LIKE :prefix"
                ),
                {"prefix": f"{PREFIX}%"},
            ).all()
    finally:
        engine.dispose()
    wanted = set(logins)
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in rows if r[0] in wanted]


def check_study_log(events: Sequence[tuple[str, str, int, int]], *, stopped_ms: int) -> list[str]:
    """Issued once each; every issued challenge passed, but one still open at the stop."""
    problems = []
    kinds: dict[tuple[str, int], Counter[str]] = {}
    issued_at: dict[tuple[str, int], int] = {}
    for login, kind, seq, at_ms in events:
        kinds.setdefault((login, seq), Counter())[kind] += 1
        if kind == "challenge_issued":
            issued_at[(login, seq)] = at_ms
    for (login, seq), count in sorted(kinds.items()):
        if count["challenge_issued"] > 1:
            problems.append(f"{login}: challenge {seq} issued {count['challenge_issued']} times")
        if count["challenge_missed"]:
            problems.append(f"{login}: challenge {seq} recorded missed (it was answered)")
        open_at_stop = issued_at.get((login, seq), 0) >= stopped_ms - 2 * WINDOW_S * 1000
        if count["challenge_issued"] and not count["challenge_passed"] and not open_at_stop:
            problems.append(f"{login}: challenge {seq} issued, never passed nor missed")
    by_login: dict[str, list[int]] = {}
    for (login, seq), count in kinds.items():
        if count["challenge_issued"]:
            by_login.setdefault(login, []).append(seq)
    for login, seqs in by_login.items():
        if sorted(seqs) != list(range(min(seqs), min(seqs) + len(seqs))):
            problems.append(f"{login}: challenge numbers skip: {sorted(seqs)}")
    return problems


async def _drill(
    url: str,
    redis: Redis,
    learners: list[Learner],
    restarts: Sequence[str],
    *,
    study_s: float,
    outage_s: float,
) -> tuple[list[float], int, int]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(study(url, learner, stop)) for learner in learners]
    recovered: list[float] = []
    marks: list[int] = []
    try:
        await asyncio.sleep(study_s)
        for how in restarts:
            marks.append(time.time_ns() // 1_000_000)
            await asyncio.to_thread(redis.stop, how)
            await asyncio.sleep(outage_s)  # the app meets a Redis that is away
            back = time.monotonic()
            await asyncio.to_thread(redis.start)
            while not await asyncio.to_thread(ready, url):
                if time.monotonic() - back > 30:
                    raise RuntimeError("the app did not become ready after Redis came back")
                await asyncio.sleep(0.1)
            recovered.append(time.monotonic() - back)
            marks.append(time.time_ns() // 1_000_000)
            await asyncio.sleep(study_s)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return recovered, marks[0] if marks else 0, marks[-1] if marks else 0


def run_drill(
    folder: Path,
    *,
    learners: int = 6,
    workers: int = 2,
    restarts: Sequence[str] = ("shutdown", "kill"),
    study_s: float = 5.0,
    outage_s: float = 1.0,
    database_url: str | None = None,
) -> Report:
    """Run the drill in ``folder`` (Redis's AOF, the database, the server's log)."""
    database_url = database_url or f"sqlite:///{folder / 'drill.db'}"
    (folder / "redis").mkdir(parents=True, exist_ok=True)
    redis = Redis(folder / "redis")
    redis.start()
    server: subprocess.Popen[bytes] | None = None
    try:
        env = server_env(folder, database_url, redis.url, free_port())
        logins = prepare(env, learners)
        with (folder / "serve.log").open("wb") as log:
            server = serve(env, workers, log)
            url = f"http://127.0.0.1:{env['EXAMENGINE_PORT']}"
            people = [Learner(login) for login in logins]
            recovered, first, last = asyncio.run(
                _drill(url, redis, people, restarts, study_s=study_s, outage_s=outage_s)
            )
            time.sleep(1.5)  # the last answers applied and flushed by the workers' ticks
            stopped_ms = time.time_ns() // 1_000_000
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait(15)
        redis.close()
    events = read_study_log(database_url, logins)
    issued = [at for _, kind, _, at in events if kind == "challenge_issued"]
    return Report(
        learners=people,
        restarts=list(restarts),
        log_problems=check_study_log(events, stopped_ms=stopped_ms),
        issued_before=sum(1 for at in issued if at < first),
        issued_after=sum(1 for at in issued if at > last),
        recovered_s=recovered,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--restarts", default="shutdown,kill",
                        help="comma-separated: shutdown (clean) or kill (SIGKILL)")  # fmt: skip
    parser.add_argument("--study-s", type=float, default=10.0,
                        help="seconds of study before, between and after the restarts")  # fmt: skip
    parser.add_argument("--outage-s", type=float, default=2.0,
                        help="seconds Redis stays away each time")  # fmt: skip
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: SQLite in the folder)")  # fmt: skip
    args = parser.parse_args(argv)
    restarts = [r.strip() for r in args.restarts.split(",") if r.strip()]
    if not set(restarts) <= {"shutdown", "kill"}:
        parser.error("--restarts takes shutdown and kill")
    folder = Path(tempfile.mkdtemp(prefix="examengine-redis-drill-"))
    report = run_drill(
        folder, learners=args.learners, workers=args.workers, restarts=restarts,
        study_s=args.study_s, outage_s=args.outage_s, database_url=args.database_url,
    )  # fmt: skip
    print(report.summary())
    print(f"(files in {folder})")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
