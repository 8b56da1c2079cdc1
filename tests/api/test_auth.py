"""Signing in and out, the forced password change, role guards and the login rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler

from api.app import create_app
from api.http import auth
from api.http.auth import requires_role
from api.http.errors import PROBLEM_JSON
from api.services.accounts import LockPolicy
from api.services.passwords import hash_password, verify_password
from api.settings import SecuritySettings, Settings, SettingsError
from api.store.db import migrate
from tests.server import served_app

Client = AsyncTestClient[Litestar]
AddUser = Callable[..., None]

AUTHOR = "110101199003077777"
LEARNER = "13800138000"
PASSWORD = "correct horse"  # what the add_user fixture sets


@get("/probe/authoring", guards=[requires_role("author")], sync_to_thread=False)
def authoring() -> dict[str, str]:
    return {"ok": "author"}


@get("/probe/signed-in", guards=[requires_role()], sync_to_thread=False)
def signed_in() -> dict[str, str]:
    return {"ok": "anyone"}


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    return [authoring, signed_in]


async def login(client: Client, who: str, password: str = PASSWORD) -> int:
    response = await client.post("/auth/login", json={"login": who, "password": password})
    return response.status_code


def test_passwords_are_hashed_with_argon2id() -> None:
    hashed = hash_password("密码 with spaces")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "密码 with spaces")
    assert not verify_password(hashed, "密码")
    assert not verify_password("not a hash", "x")


def test_a_guard_for_an_unknown_role_is_refused_at_definition() -> None:
    with pytest.raises(ValueError, match="unknown roles \\['admin'\\]"):
        requires_role("admin")


async def test_login_opens_a_session_that_says_who_i_am(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    response = await app_client.post("/auth/login", json={"login": AUTHOR, "password": PASSWORD})
    assert response.status_code == 200
    assert "examengine_session" in response.cookies
    assert response.json()["roles"] == ["author"]
    me = await app_client.get("/auth/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": 1,
        "login": AUTHOR,
        "display_name": f"user {AUTHOR}",
        "roles": ["author"],
        "must_change_password": False,
    }


async def test_a_wrong_password_is_refused_in_english_and_chinese(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    response = await app_client.post("/auth/login", json={"login": AUTHOR, "password": "wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert body["detail"].startswith("The login or the password is wrong.")
    assert body["detail_zh"].startswith("账号或密码错误。")
    assert "activation link" in body["detail"] and "激活链接" in body["detail_zh"]
    assert (await app_client.get("/auth/me")).status_code == 401


async def test_an_unknown_login_gets_the_same_answer_as_a_wrong_password(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    unknown = await app_client.post("/auth/login", json={"login": "nobody", "password": "x"})
    wrong = await app_client.post("/auth/login", json={"login": AUTHOR, "password": "x"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_an_unchanged_session_is_written_back_once_a_minute_not_every_request(
    app_client: Client, add_user: AddUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request reads the session; only a change, or the first request a minute
    after the last write, writes it (expiry slid, cookie re-sent)."""
    add_user(AUTHOR, "author")
    assert await login(app_client, AUTHOR) == 200
    quiet = [await app_client.get("/auth/me") for _ in range(3)]
    assert [r.status_code for r in quiet] == [200] * 3
    written = [c for r in quiet for c in r.headers.get_list("set-cookie")]
    assert not [c for c in written if c.startswith("examengine_session=")], written
    monkeypatch.setattr(auth, "RENEW_EVERY_S", 0)  # as if the minute were over
    renewed = await app_client.get("/auth/me")
    assert renewed.status_code == 200
    assert any(c.startswith("examengine_session=") for c in renewed.headers.get_list("set-cookie"))
    assert (await app_client.post("/auth/logout")).status_code == 204  # a change: written
    assert (await app_client.get("/auth/me")).status_code == 401


async def test_logout_ends_the_session(app_client: Client, add_user: AddUser) -> None:
    add_user(AUTHOR, "author")
    assert await login(app_client, AUTHOR) == 200
    assert (await app_client.post("/auth/logout")).status_code == 204
    assert (await app_client.get("/auth/me")).status_code == 401
    assert (await app_client.get("/probe/signed-in")).status_code == 401


async def test_the_session_id_changes_at_login(app_client: Client, add_user: AddUser) -> None:
    add_user(AUTHOR, "author")
    add_user(LEARNER, "learner")
    assert await login(app_client, LEARNER) == 200
    before = app_client.cookies["examengine_session"]
    assert await login(app_client, AUTHOR) == 200
    after = app_client.cookies["examengine_session"]
    assert after != before
    app_client.cookies.set("examengine_session", before)
    assert (await app_client.get("/auth/me")).status_code == 401


async def test_a_forced_password_change_blocks_everything_else_until_done(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author", must_change=True)
    assert await login(app_client, AUTHOR) == 200

    blocked = await app_client.get("/probe/authoring")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "password_change_required"
    assert "密码" in blocked.json()["detail_zh"]
    assert (await app_client.get("/auth/me")).json()["must_change_password"] is True

    wrong = await app_client.post(
        "/auth/password", json={"current_password": "nope", "new_password": "new password 1"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    same = await app_client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD}
    )
    assert (same.status_code, same.json()["code"]) == (422, "password_unchanged")
    short = await app_client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["new_password"]

    changed = await app_client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "new password 1"}
    )
    assert changed.status_code == 200
    assert changed.json()["must_change_password"] is False
    assert (await app_client.get("/probe/authoring")).json() == {"ok": "author"}

    await app_client.post("/auth/logout")
    assert await login(app_client, AUTHOR) == 401
    assert await login(app_client, AUTHOR, "new password 1") == 200
    assert (await app_client.get("/probe/authoring")).status_code == 200


async def test_a_role_guard_refuses_other_roles_with_403(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(LEARNER, "learner")
    assert (await app_client.get("/probe/authoring")).status_code == 401
    assert await login(app_client, LEARNER) == 200
    response = await app_client.get("/probe/authoring")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "forbidden"
    assert "author" in body["detail"] and "author" in body["detail_zh"]
    assert (await app_client.get("/probe/signed-in")).status_code == 200


@pytest.fixture
async def limited_client(settings_sqlite: Settings) -> AsyncIterator[Client]:
    """A client over an app that takes 3 logins a minute from one address."""
    limited = SecuritySettings(
        secret_key=settings_sqlite.security.secret_key,
        paper_secret=settings_sqlite.security.paper_secret,
        login_attempts_per_minute=3,
    )
    settings = settings_sqlite.replace(security=limited)
    migrate(settings.database.url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_too_many_logins_from_one_address_are_refused_with_429_and_retry_after(
    limited_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    client = limited_client
    assert [await login(client, AUTHOR, "wrong") for _ in range(3)] == [401, 401, 401]
    response = await client.post("/auth/login", json={"login": AUTHOR, "password": PASSWORD})
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM_JSON
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.json()["code"] == "rate_limited"
    assert response.json()["detail_zh"] == "请求过于频繁，请稍后再试。"
    # Only the login, the registration and the password change are limited.
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/auth/me")).status_code == 401


async def test_the_password_change_shares_the_logins_limit_per_address(
    limited_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    client = limited_client
    assert await login(client, AUTHOR) == 200
    tries = [
        (await client.post(
            "/auth/password", json={"current_password": "wrong", "new_password": "x" * 12},
        )).status_code
        for _ in range(3)
    ]  # fmt: skip
    assert tries == [403, 403, 429]


@pytest.mark.redis
async def test_with_redis_sessions_and_login_limits_are_shared_by_all_workers(
    settings_redis: Settings, add_user: AddUser
) -> None:
    settings = settings_redis.replace(security=SecuritySettings(
        secret_key="k" * 40, paper_secret="p" * 40, login_attempts_per_minute=3))  # fmt: skip
    migrate(settings.database.url)
    add_user(AUTHOR, "author")
    async with (
        AsyncTestClient(app=create_app(settings)) as first,
        AsyncTestClient(app=create_app(settings)) as second,
    ):
        assert await login(first, AUTHOR) == 200
        second.cookies.set("examengine_session", first.cookies["examengine_session"])
        assert (await second.get("/auth/me")).json()["login"] == AUTHOR
        assert await login(second, AUTHOR, "wrong") == 401
        assert await login(first, AUTHOR, "wrong") == 401
        assert await login(second, AUTHOR) == 429


# ------------------------------------------------------------------------ /metrics


class FromAddress:
    """The app as seen from the client address in the ``x-test-address`` header (what
    a proxy with trusted forwarding headers hands on), for tests that need two addresses."""

    def __init__(self, app: Litestar) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            address = dict(scope["headers"]).get(b"x-test-address")
            if address is not None:
                scope = {**scope, "client": (address.decode(), 50000)}
        await self.app(scope, receive, send)


TOKEN = "metrics-token-" + "t" * 32


@pytest.fixture
async def production_client(settings_sqlite: Settings) -> AsyncIterator[Client]:
    """A production app: /metrics for 10.0.0.0/8 or the bearer token only."""
    security = SecuritySettings(
        secret_key=settings_sqlite.security.secret_key,
        paper_secret=settings_sqlite.security.paper_secret,
        metrics_allow=("10.0.0.0/8",),
        metrics_token=TOKEN,
    )
    settings = settings_sqlite.replace(environment="production", security=security)
    migrate(settings.database.url)
    app = create_app(settings)
    async with AsyncTestClient(app=FromAddress(app)) as client:
        yield client


async def test_metrics_are_open_outside_production(app_client: Client) -> None:
    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert "examengine" in response.text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"x-test-address": "203.0.113.9"}, 403),
        ({"x-test-address": "10.1.2.3"}, 200),
        ({"x-test-address": "203.0.113.9", "Authorization": f"Bearer {TOKEN}"}, 200),
        ({"x-test-address": "203.0.113.9", "Authorization": "Bearer wrong"}, 403),
        ({"x-test-address": "203.0.113.9", "Authorization": TOKEN}, 403),
    ],
    ids=["outsider", "allowed-network", "token", "wrong-token", "token-without-bearer"],
)
async def test_in_production_metrics_are_for_the_allow_list_or_the_token(
    production_client: Client, headers: dict[str, str], status: int
) -> None:
    response = await production_client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "metrics_forbidden"
        assert "EXAMENGINE_METRICS_ALLOW" in response.json()["detail_zh"]


def test_the_metrics_settings_are_checked_when_read() -> None:
    env = {"EXAMENGINE_SECRET_KEY": "k" * 40, "EXAMENGINE_PAPER_SECRET": "p" * 40}
    settings = Settings.from_env(
        {
            **env,
            "EXAMENGINE_METRICS_ALLOW": "10.0.0.0/8, 192.168.1.7",
            "EXAMENGINE_METRICS_TOKEN": TOKEN,
        }
    )
    assert settings.security.metrics_allow == ("10.0.0.0/8", "192.168.1.7/32")
    assert settings.security.metrics_token == TOKEN
    with pytest.raises(SettingsError, match="EXAMENGINE_METRICS_ALLOW"):
        Settings.from_env({**env, "EXAMENGINE_METRICS_ALLOW": "intranet"})
    with pytest.raises(SettingsError, match="EXAMENGINE_METRICS_TOKEN"):
        Settings.from_env({**env, "EXAMENGINE_METRICS_TOKEN": "short"})


# --------------------------------------------------------- the lock per address


async def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(
    settings_sqlite: Settings, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    migrate(settings_sqlite.database.url)
    app = create_app(settings_sqlite)
    async with AsyncTestClient(app=FromAddress(app)) as client:

        async def attempt(address: str, password: str) -> tuple[int, str | None]:
            response = await client.post(
                "/auth/login",
                json={"login": AUTHOR, "password": password},
                headers={"x-test-address": address},
            )
            code = response.json().get("code") if response.status_code != 200 else None
            return response.status_code, code

        attacker, owner = "198.51.100.66", "10.20.30.40"
        tries = [await attempt(attacker, f"guess {n}") for n in range(5)]
        assert tries[-1] == (429, "account_locked")
        assert await attempt(attacker, PASSWORD) == (429, "account_locked")
        assert await attempt(owner, PASSWORD) == (200, None)


async def test_a_hundred_failures_an_hour_close_the_account_to_addresses_it_does_not_know(
    settings_sqlite: Settings, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    migrate(settings_sqlite.database.url)
    app = create_app(settings_sqlite)
    app.state.login_lock = LockPolicy(account_failures=6)  # 100 in production: faster here
    async with AsyncTestClient(app=FromAddress(app)) as client:

        async def attempt(address: str, password: str) -> int:
            response = await client.post(
                "/auth/login",
                json={"login": AUTHOR, "password": password},
                headers={"x-test-address": address},
            )
            return response.status_code

        assert await attempt("10.0.0.1", PASSWORD) == 200  # the owner's usual address
        # A botnet: three wrong passwords from each of a few addresses.
        failures = [await attempt(f"198.51.100.{n}", "guess") for n in (1, 1, 1, 2, 2, 2)]
        assert failures == [401] * 6
        assert await attempt("198.51.100.3", PASSWORD) == 429  # a new address: closed
        assert await attempt("10.0.0.1", PASSWORD) == 200  # the owner still gets in


async def test_wrong_current_passwords_lock_the_password_change_like_a_login(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    assert await login(app_client, AUTHOR) == 200

    async def change(current: str) -> tuple[int, str]:
        response = await app_client.post(
            "/auth/password", json={"current_password": current, "new_password": "x7" * 6}
        )
        return response.status_code, response.json()["code"]

    tries = [await change(f"guess {n}") for n in range(5)]
    assert tries == [(403, "wrong_password")] * 4 + [(429, "account_locked")]
    assert await change(PASSWORD) == (429, "account_locked")  # paused, even when right
    # And the sign-in from this address is paused with it (one count per account).
    assert await login(app_client, AUTHOR) == 429


def test_over_a_real_server_an_address_that_guessed_is_paused_and_the_owner_is_not(
    tmp_path: Path,
) -> None:
    """The lock per address with real source addresses: 127.0.0.2 guesses, the owner
    signs in from 127.0.0.1 (both loopback, to one served app)."""
    author, password = "13800000001", "author-demo-1"  # the demo author

    def client(address: str) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)

    with (
        served_app(tmp_path) as server,
        client("127.0.0.2") as guesser,
        client("127.0.0.1") as owner,
    ):

        def sign_in(who: httpx.Client, secret: str) -> int:
            url = f"{server.url}/auth/login"
            return who.post(url, json={"login": author, "password": secret}).status_code

        assert [sign_in(guesser, f"guess {n}") for n in range(5)] == [401] * 4 + [429]
        assert sign_in(guesser, password) == 429
        assert sign_in(owner, password) == 200
