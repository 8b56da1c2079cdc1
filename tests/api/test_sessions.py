"""Sessions that die when they should: a password change, a staff reset and a role change
end the account's other sessions at once (decision 0014), over the real app with two
clients — on the default file store, and with Redis shared by two app processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler

from api.app import create_app
from api.http.auth import requires_role
from api.settings import SecuritySettings, Settings
from api.store.db import migrate
from tests.conftest import TEST_PASSWORD, redis_target_of

Client = AsyncTestClient[Litestar]
AddUser = Callable[..., None]

PASSWORD = TEST_PASSWORD  # what the add_user fixture sets
NEW_PASSWORD = "a new horse 7"
AUTHOR = "author1"
OPERATOR = "operator1"


@get("/probe/author", guards=[requires_role("author")], sync_to_thread=False)
def author_probe() -> dict[str, str]:
    return {"ok": "author"}


@get("/probe/anyone", guards=[requires_role()], sync_to_thread=False)
def anyone_probe() -> dict[str, str]:
    return {"ok": "anyone"}


ROUTES: list[ControllerRouterHandler] = [author_probe, anyone_probe]


def open_settings(settings: Settings) -> Settings:
    """No per-address limit: these tests sign in many times from one address."""
    return settings.replace(
        security=SecuritySettings(
            secret_key=settings.security.secret_key,
            paper_secret=settings.security.paper_secret,
            login_attempts_per_minute=10_000,
        )
    )


@asynccontextmanager
async def two_apps(settings: Settings, *, shared: bool) -> AsyncIterator[tuple[Client, Client]]:
    """Two clients (two browsers): on one app, or each on an app of its own (two worker
    processes sharing the stores through Redis)."""
    migrate(settings.database.url)
    first_app = create_app(settings, route_handlers=ROUTES)
    if shared:  # a second cookie jar on the app the first client started
        async with AsyncTestClient(app=first_app) as first:
            # Not entered: the first client runs the app's lifespan for both.
            yield first, AsyncTestClient(app=first_app)
        return
    second_app = create_app(settings, route_handlers=ROUTES)
    async with AsyncTestClient(app=first_app) as first, AsyncTestClient(app=second_app) as second:
        yield first, second


@asynccontextmanager
async def user_and_operator(
    settings: Settings, shared: bool, add_user: AddUser
) -> AsyncIterator[tuple[Client, Client]]:
    """An author signed in (and reading as one) and an operator signed in elsewhere."""
    add_user(AUTHOR, "author")
    add_user(OPERATOR, "operator")
    async with two_apps(settings, shared=shared) as (user, operator):
        assert await login(user, AUTHOR) == 200
        assert (await user.get("/probe/author")).status_code == 200
        assert await login(operator, OPERATOR) == 200
        yield user, operator


async def login(client: Client, who: str, password: str = PASSWORD) -> int:
    response = await client.post("/auth/login", json={"login": who, "password": password})
    return response.status_code


async def signed_in(client: Client) -> bool:
    status = (await client.get("/auth/me")).status_code
    assert status in {200, 401}
    return status == 200


@pytest.fixture(params=["files", "redis", "redis-cluster"])
def settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    if request.param == "files":
        return open_settings(settings_sqlite)
    target = redis_target_of(request, "cluster" if request.param == "redis-cluster" else "server")
    return open_settings(settings_sqlite.replace(redis=target.settings()))


@pytest.fixture
def shared(settings: Settings) -> bool:
    """With Redis the two clients talk to two apps (two workers); with files, to one."""
    return settings.redis.url is None


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """The shared ``add_user`` fixture writes into this module's settings' database."""
    return settings


async def test_a_password_change_ends_every_other_session_and_keeps_its_own(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    async with two_apps(settings, shared=shared) as (here, elsewhere):
        assert await login(here, AUTHOR) == 200
        assert await login(elsewhere, AUTHOR) == 200
        assert await signed_in(elsewhere)
        old_cookie = here.cookies["examengine_session"]

        changed = await here.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 200, changed.text
        assert here.cookies["examengine_session"] != old_cookie  # a new id
        assert await signed_in(here)
        assert (await here.get("/probe/author")).status_code == 200
        # The other session is over at its next request, and stays over.
        assert (await elsewhere.get("/probe/author")).status_code == 401
        assert not await signed_in(elsewhere)
        # It can sign in again with the new password.
        assert await login(elsewhere, AUTHOR, NEW_PASSWORD) == 200
        assert await signed_in(elsewhere)
        assert await signed_in(here)


async def test_a_copy_of_the_changing_sessions_old_cookie_is_dead_after_the_change(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    async with two_apps(settings, shared=shared) as (owner, thief):
        assert await login(owner, AUTHOR) == 200
        thief.cookies.set("examengine_session", owner.cookies["examengine_session"])
        assert await signed_in(thief)
        changed = await owner.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 200
        assert not await signed_in(thief)


async def test_a_reset_by_an_operator_ends_every_session_of_the_account(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    async with user_and_operator(settings, shared, add_user) as (user, operator):
        reset = await operator.post(
            f"/api/accounts/{AUTHOR}/reset-password", json={"password": "Temporary-2026"}
        )
        assert reset.status_code == 200, reset.text
        assert (await user.get("/probe/anyone")).status_code == 401
        assert await signed_in(operator)  # the operator's own session is not the account's
        # The forced change applies: signing in with the new password, everything but the
        # password change is closed.
        assert await login(user, AUTHOR, "Temporary-2026") == 200
        blocked = await user.get("/probe/author")
        assert (blocked.status_code, blocked.json()["code"]) == (403, "password_change_required")


async def test_a_role_change_ends_every_session_of_the_account(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    async with user_and_operator(settings, shared, add_user) as (user, operator):
        demoted = await operator.post(f"/api/accounts/{AUTHOR}/roles", json={"roles": ["learner"]})
        assert demoted.status_code == 200, demoted.text
        assert (await user.get("/probe/author")).status_code == 401
        assert await login(user, AUTHOR) == 200
        assert (await user.get("/probe/author")).status_code == 403  # a learner now
        assert (await user.get("/probe/anyone")).status_code == 200


async def test_an_operator_changing_their_own_roles_keeps_this_session_with_the_new_roles(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    add_user(OPERATOR, "operator")
    async with two_apps(settings, shared=shared) as (here, elsewhere):
        assert await login(here, OPERATOR) == 200
        assert await login(elsewhere, OPERATOR) == 200
        changed = await here.post(
            f"/api/accounts/{OPERATOR}/roles", json={"roles": ["operator", "author"]}
        )
        assert changed.status_code == 200, changed.text
        assert (await here.get("/probe/author")).status_code == 200
        assert not await signed_in(elsewhere)


async def test_sessions_of_other_accounts_are_untouched(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    add_user("author2", "author")
    async with two_apps(settings, shared=shared) as (first, second):
        assert await login(first, AUTHOR) == 200
        assert await login(second, "author2") == 200
        changed = await first.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 200
        assert await signed_in(second)


async def test_a_reset_learners_old_session_no_longer_reads_my_exams(
    settings: Settings, shared: bool, add_user: AddUser
) -> None:
    """The issue's finding: after a reset the old session kept calling /api/me/exams."""
    add_user("learner1", "learner")
    add_user(OPERATOR, "operator")
    async with two_apps(settings, shared=shared) as (learner, operator):
        assert await login(learner, "learner1") == 200
        assert (await learner.get("/api/me/exams")).status_code == 200
        assert await login(operator, OPERATOR) == 200
        reset = await operator.post("/api/accounts/learner1/reset-password", json={})
        assert reset.status_code == 200
        after = await learner.get("/api/me/exams")
        assert (after.status_code, after.json()["code"]) == (401, "not_authenticated")
