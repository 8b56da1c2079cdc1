"""Cross-site request forgery (decision 0015): unsafe requests from another site are
refused (Sec-Fetch-Site, Origin, Referer), JSON bodies must be sent as JSON, and the
form posts carry Litestar's CSRF token."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from openpyxl import Workbook
from sqlmodel import select

from api.app import create_app
from api.http.csrf import default_origins, origin_of
from api.http.errors import PROBLEM_JSON
from api.settings import SecuritySettings, Settings, SettingsError
from api.store.db import migrate, standalone_transaction
from api.store.tables import User

Client = AsyncTestClient[Litestar]
AddUser = Callable[..., None]

PASSWORD = "correct horse"  # what the add_user fixture sets
OPERATOR = "operator1"
AUTHOR = "author1"
EVIL = "http://evil.example"
SITE = "https://exam.example.cn"


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    return settings_sqlite.replace(
        security=SecuritySettings(
            secret_key=settings_sqlite.security.secret_key,
            paper_secret=settings_sqlite.security.paper_secret,
            login_attempts_per_minute=10_000,
            public_origins=(SITE,),
        )
    )


@pytest.fixture
async def operator(app_client: Client, add_user: AddUser) -> Client:
    add_user(OPERATOR, "operator")
    add_user(AUTHOR, "author")
    signed_in = await app_client.post("/auth/login", json={"login": OPERATOR, "password": PASSWORD})
    assert signed_in.status_code == 200
    return app_client


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["detail"] and body["detail_zh"]
    return body


def roles_of(client: Client, login: str) -> list[str]:
    """The account's roles as stored."""
    with standalone_transaction(client.app.state.settings.database) as db:
        return list(db.exec(select(User).where(User.login == login)).one().roles)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.cn"},
        {"Referer": f"{EVIL}/attack.html"},
        {"Origin": "http://exam.example.cn"},  # the configured site, but not over https
    ],
    ids=["origin", "null-origin", "fetch-site", "sibling-site", "referer", "scheme"],
)
async def test_an_operators_role_change_from_another_site_is_refused_before_anything_changes(
    operator: Client, headers: dict[str, str]
) -> None:
    response = await operator.post(
        f"/api/accounts/{AUTHOR}/roles", json={"roles": ["operator"]}, headers=headers
    )
    body = refused(response, 403, "cross_site_request")
    assert "another site" in body["detail"] and "其他网站" in body["detail_zh"]
    assert roles_of(operator, AUTHOR) == ["author"]


async def test_an_operators_extend_from_another_site_is_refused_before_the_attempt_is_read(
    operator: Client,
) -> None:
    response = await operator.post(
        "/api/operator/attempts/no-such-attempt/extend",
        json={"extra_s": 600, "reason": "x"},
        headers={"Origin": EVIL},
    )
    refused(response, 403, "cross_site_request")
    # The same request from the site itself reaches the handler (which finds nothing).
    same = await operator.post(
        "/api/operator/attempts/no-such-attempt/extend",
        json={"extra_s": 600, "reason": "x"},
        headers={"Origin": SITE},
    )
    assert same.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": SITE},
        {"Sec-Fetch-Site": "none"},
        {"Origin": SITE},
        {"Referer": f"{SITE}/proctor"},
        {"Origin": "http://testserver.local"},  # the request's own Host
        {},  # no browser: a command-line client
    ],
    ids=["fetch-site", "user-initiated", "origin", "referer", "own-host", "no-browser"],
)
async def test_requests_from_the_site_itself_pass(
    operator: Client, headers: dict[str, str]
) -> None:
    response = await operator.post(
        f"/api/accounts/{AUTHOR}/roles", json={"roles": ["author", "proctor"]}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_a_safe_request_from_another_site_is_answered(operator: Client) -> None:
    assert (await operator.get("/auth/me", headers={"Origin": EVIL})).status_code == 200


async def test_a_cross_site_login_is_refused_too(app_client: Client, add_user: AddUser) -> None:
    add_user(AUTHOR, "author")
    response = await app_client.post(
        "/auth/login",
        json={"login": AUTHOR, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    refused(response, 403, "cross_site_request")
    assert "examengine_session" not in response.cookies


@pytest.mark.parametrize(
    "content_type", ["text/plain", None, "application/x-json", "application/jsonp"]
)
async def test_a_json_body_sent_as_anything_but_json_is_a_415(
    operator: Client, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await operator.post(
        f"/api/accounts/{AUTHOR}/roles", content=b'{"roles": ["operator"]}', headers=headers
    )
    body = refused(response, 415, "json_required")
    assert "application/json" in body["detail"] and "application/json" in body["detail_zh"]
    assert roles_of(operator, AUTHOR) == ["author"]


@post("/probe/optional-body", sync_to_thread=False)
def optional_body(data: JSONBody[dict[str, int] | None] = None) -> dict[str, bool]:
    return {"body": data is not None}


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    return [optional_body]


async def test_an_optional_json_body_left_out_needs_no_content_type(app_client: Client) -> None:
    left_out = await app_client.post("/probe/optional-body")
    assert (left_out.status_code, left_out.json()) == (201, {"body": False})
    sent = await app_client.post("/probe/optional-body", json={"a": 1})
    assert sent.json() == {"body": True}
    as_text = await app_client.post(
        "/probe/optional-body", content=b'{"a": 1}', headers={"Content-Type": "text/plain"}
    )
    refused(as_text, 415, "json_required")
    untyped = await app_client.post("/probe/optional-body", content=b'{"a": 1}')
    refused(untyped, 415, "json_required")


async def test_json_with_a_charset_is_json(operator: Client) -> None:
    response = await operator.post(
        f"/api/accounts/{AUTHOR}/roles",
        content=b'{"roles": ["author"]}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


async def test_an_anonymous_login_as_text_plain_is_a_415(
    app_client: Client, add_user: AddUser
) -> None:
    add_user(AUTHOR, "author")
    response = await app_client.post(
        "/auth/login",
        content=b'{"login": "author1", "password": "correct horse"}',
        headers={"Content-Type": "text/plain"},
    )
    refused(response, 415, "json_required")
    assert "examengine_session" not in response.cookies


def roster() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "身份证号"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_form_post_needs_litestars_csrf_token(operator: Client) -> None:
    files = {"file": ("roster.xlsx", roster())}
    missing = await operator.post("/api/accounts/roster", files=files)
    body = refused(missing, 403, "csrf_token_invalid")
    assert "csrftoken" in body["detail"] and "令牌" in body["detail_zh"]
    wrong = await operator.post("/api/accounts/roster", files=files, headers={"x-csrftoken": "x"})
    refused(wrong, 403, "csrf_token_invalid")
    page = await operator.get("/")  # any page sets the cookie
    token = page.cookies.get("csrftoken") or operator.cookies["csrftoken"]
    ok = await operator.post("/api/accounts/roster", files=files, headers={"x-csrftoken": token})
    assert ok.status_code == 200, ok.text
    # The token of another cookie (another browser) does not fit this one.
    other = AsyncTestClient(app=operator.app)
    other_token = (await other.get("/auth/me")).cookies["csrftoken"]
    assert other_token != token
    mismatched = await operator.post(
        "/api/accounts/roster", files=files, headers={"x-csrftoken": other_token}
    )
    refused(mismatched, 403, "csrf_token_invalid")


async def test_the_csrf_cookie_is_readable_by_the_pages_script_and_same_site(
    app_client: Client,
) -> None:
    response = await app_client.get("/auth/me")
    cookies = [c.lower() for c in response.headers.get_list("set-cookie")]
    [cookie] = [c for c in cookies if c.startswith("csrftoken=")]
    assert "samesite=lax" in cookie and "httponly" not in cookie


def test_the_default_origins_are_the_servers_own() -> None:
    assert default_origins("127.0.0.1", 8000) == (
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    )
    assert default_origins("exam.example.cn", 80) == ("http://exam.example.cn:80",)
    assert origin_of("HTTPS://Exam.Example.cn/path?q") == "https://exam.example.cn"
    assert origin_of("null") is None


def test_public_origins_are_checked_when_read() -> None:
    env = {"EXAMENGINE_SECRET_KEY": "k" * 40, "EXAMENGINE_PAPER_SECRET": "p" * 40}
    settings = Settings.from_env(
        {**env, "EXAMENGINE_PUBLIC_ORIGINS": "https://exam.example.cn, http://10.0.0.5:8000"}
    )
    assert settings.security.public_origins == ("https://exam.example.cn", "http://10.0.0.5:8000")
    with pytest.raises(SettingsError, match=r"EXAMENGINE_PUBLIC_ORIGINS.*not an origin"):
        Settings.from_env({**env, "EXAMENGINE_PUBLIC_ORIGINS": "exam.example.cn"})


@pytest.fixture
async def default_client(settings_sqlite: Settings) -> AsyncIterator[Client]:
    migrate(settings_sqlite.database.url)
    async with AsyncTestClient(app=create_app(settings_sqlite)) as client:
        yield client


async def test_without_public_origins_the_servers_own_address_is_the_site(
    default_client: Client,
) -> None:
    async def logout(origin: str) -> int:
        response = await default_client.post("/auth/logout", headers={"Origin": origin})
        return response.status_code

    assert await logout("http://127.0.0.1:8000") == 204
    assert await logout("http://localhost:8000") == 204
    assert await logout("http://127.0.0.1:9000") == 403
    assert await logout(EVIL) == 403
