"""A load-test run (EXAMENGINE_LOAD_TEST): thousands of imported learners sign in from one
address and start at once — no per-address login limit, no forced password change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.settings import SecuritySettings, Settings
from tests.conftest import TEST_PASSWORD

Client = AsyncTestClient[Litestar]


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    limited = SecuritySettings(
        secret_key=settings_sqlite.security.secret_key,
        paper_secret=settings_sqlite.security.paper_secret,
        login_attempts_per_minute=2,
    )
    return settings_sqlite.replace(security=limited, load_test=True)


async def test_no_login_limit_and_no_forced_password_change(
    app_client: Client, add_user: Callable[..., None]
) -> None:
    add_user("13900000001", "learner", must_change=True)
    for _ in range(5):  # past the limit of 2 a minute
        response = await app_client.post(
            "/auth/login", json={"login": "13900000001", "password": TEST_PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["must_change_password"] is False
    assert (await app_client.get("/api/me/exams")).status_code == 200
