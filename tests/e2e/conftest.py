"""Browser tests: the app served by uvicorn on 127.0.0.1, driven by Debian's Chromium
through the async Playwright API (one session-scoped event loop, our own fixtures: no
pytest-playwright, whose sync API breaks pytest-asyncio tests in the same process).

- ``e2e_server``: once per session, a migrated SQLite database with the demo data, a
  uvicorn process on a free port (sweeper every 200 ms), stopped by its PID. A journey
  marked ``@SCALED_TOO`` also runs on the deployed stack: PostgreSQL, Redis and two
  ``examengine serve`` workers behind a round-robin balancer; its ``page`` then checks
  that the browser's requests reached both workers (their access lines, by the
  ``X-Request-ID`` the browser sends on every request).
- ``browser``: once per session, ``/usr/bin/chromium`` (``EXAMENGINE_TEST_CHROMIUM``)
  headless with the project's flags. A missing browser skips the tests, except under
  ``CI=true``, where it fails (``.ci/run`` installs the ``chromium`` package).
- ``page``: a fresh browser context (cookies, localStorage) per test, phone-sized or
  desktop-sized by the ``viewport`` fixture.
- ``new_learner``: a learner account of its own for a test, enrolled in the demo exam.
- ``shot(page, name)``: a full-page screenshot under ``artifacts/screenshots`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import async_playwright
from sqlmodel import col

from api.cli.demo import DEMO_EXAM
from api.logging import ACCESS_LOGGER
from api.services import attempts
from api.services.passwords import hash_password
from api.store.db import standalone_transaction
from api.store.tables import Attempt, User
from tests.server import ROOT, Server, scaled_app, served_app

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("EXAMENGINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "e2e-Password-9"


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


#: Run a journey on both stacks: ``@SCALED_TOO`` above the test (decision 0020).
SCALED_TOO = pytest.mark.parametrize("e2e_server", ["embedded", "scaled"], indirect=True)


@contextmanager
def server_for(request: pytest.FixtureRequest, root: Path, **env: str) -> Iterator[Server]:
    """The embedded stack (SQLite, one worker, no Redis), or with ``scaled`` as the
    fixture's parameter the deployed one: PostgreSQL, Redis and two workers behind a
    round-robin balancer (tests.server.scaled_app)."""
    if getattr(request, "param", "embedded") == "scaled":
        with scaled_app(root, **env) as app:
            yield app
    else:
        with served_app(root, **env) as app:
            yield app


@pytest.fixture(scope="session")
def e2e_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with server_for(
        request, tmp_path_factory.mktemp("e2e"), EXAMENGINE_SWEEP_INTERVAL_MS="200"
    ) as app:
        yield app


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or set EXAMENGINE_TEST_CHROMIUM)"
        )
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


#: A phone (360 × 740) unless a test overrides ``viewport``.
@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 390, "height": 844}


@pytest.fixture
async def page(browser: Any, e2e_server: Server, viewport: dict[str, int]) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=e2e_server.url, viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(10_000)
    # Every request of this browser carries one id, logged by whichever worker serves it.
    browser_id = f"e2e-{secrets.token_hex(6)}"
    if e2e_server.backends:
        await context.set_extra_http_headers({"x-request-id": browser_id})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    if e2e_server.backends:  # the scaled stack: the learner's requests reached every worker
        served = [served_requests(log, browser_id) for log in e2e_server.backends]
        assert all(served), f"requests of this browser per worker: {served}"


def served_requests(log: Path, request_id: str) -> int:
    """How many requests with ``request_id`` a worker's access lines show."""
    count = 0
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{request_id}"' in line:
            entry = json.loads(line)
            count += entry.get("logger") == ACCESS_LOGGER and entry.get("request_id") == request_id
    return count


@pytest.fixture
def shot() -> Callable[..., Awaitable[None]]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page: Any, name: str, *, full_page: bool = True) -> None:
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take


@dataclass(frozen=True)
class Learner:
    id: int
    login: str
    password: str


@pytest.fixture
def new_learner(e2e_server: Server) -> Callable[..., Learner]:
    """A learner of the test's own (login ``e2e-<random>``), enrolled in the demo exam
    with the study requirement met (``exam=False``: in nothing); ``must_change=True``
    forces a password change."""

    def make(*, must_change: bool = False, exam: bool = True) -> Learner:
        login = f"e2e-{secrets.token_hex(4)}"
        with standalone_transaction(e2e_server.database) as session:
            user = User(
                login=login,
                display_name=f"学员 {login}",
                password_hash=hash_password(PASSWORD),
                roles=["learner"],
                must_change_password=must_change,
                created_at=datetime.now(UTC),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            if exam:
                attempts.enroll(
                    session, learner_id=user.id, exam=DEMO_EXAM, study_met=True,
                    now=e2e_server.now_ms(),
                )  # fmt: skip
            return Learner(id=user.id, login=login, password=PASSWORD)

    return make


def move_deadline(server: Server, attempt_id: str, *, seconds_from_now: float) -> None:
    """Simulate the time passing: the attempt's deadline (and next check) moved."""
    deadline = server.now_ms() + int(seconds_from_now * 1000)
    with standalone_transaction(server.database) as session:
        session.execute(
            sa.update(Attempt)
            .where(col(Attempt.id) == attempt_id)
            .values(deadline_ms=deadline, next_check_ms=deadline)
        )


async def sign_in(page: Any, login: str, password: str, *, expect_success: bool = True) -> None:
    """Sign in through the login page (in Chinese); waits for the page after it."""
    await page.goto("/login")
    await page.get_by_label("身份证号或手机号").fill(login)
    await page.get_by_label("密码", exact=True).fill(password)
    await page.get_by_role("button", name="登录").click()
    if expect_success:
        await page.wait_for_url(lambda url: "/login" not in url)
