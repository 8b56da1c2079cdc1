"""Plan files from the browser: an author checks and stores a plan (its price too), bad
files are refused naming the file and the field in both languages, and an operator
reprices a plan without changing the orders placed before."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli.demo import DEMO_PLAN
from api.settings import Settings
from tests.api.test_employer import LI, sign_in, world
from tests.api.test_plan_cli import PLAN

Client = AsyncTestClient[Litestar]


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    security = msgspec.structs.replace(settings_sqlite.security, login_attempts_per_minute=10_000)
    return settings_sqlite.replace(security=security)


async def send(client: Client, path: str, text: str, name: str = "plan.yaml") -> Any:
    """The file as the page's form sends it: multipart, with the CSRF token."""
    await client.get("/auth/me")  # sets the token's cookie
    return await client.post(path, files={"file": (name, text.encode(), "application/x-yaml")},
                             headers={"x-csrftoken": client.cookies["csrftoken"]})  # fmt: skip


async def test_an_author_checks_and_stores_a_priced_plan(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "operator1")
    priced = PLAN.replace("year: 2026", "year: 2026\nprice_fen: 150\nprice_basis: hour")
    checked = await send(app_client, "/api/plans/check", priced)
    assert checked.status_code == 200, checked.text
    assert checked.json() == {
        "plan": "2026-公需", "title": "2026 公需科目", "year": 2026, "category": "public",
        "required_hours": 1.0, "elective_hours": 0.0, "courses": 1, "chapters": 1, "exam": None,
        "policy": "own", "price_fen": 150, "price_basis": "hour", "unit_fen": 150,
    }  # fmt: skip
    listed = [p["plan"] for p in (await app_client.get("/api/plans")).json()]
    assert "2026-公需" not in listed  # checked, not stored
    stored = await send(app_client, "/api/plans/import", priced)
    assert stored.status_code == 201, stored.text
    listed = {p["plan"]: p for p in (await app_client.get("/api/plans")).json()}
    assert (listed["2026-公需"]["price_basis"], listed["2026-公需"]["unit_fen"]) == ("hour", 150)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("year: 2026", "year: 2026\nprice_fen: -1"), "$.price_fen"),
        (("window_ms: 90000", "window_ms: 90"), "$.challenge.window_ms"),
        (("year: 2026", "year: 二〇二六"), "$.year"),
    ],
)
async def test_a_bad_plan_file_is_refused_naming_the_file_and_field(
    app_client: Client, app_settings: Settings, change: tuple[str, str], field: str
) -> None:
    world(app_settings)
    await sign_in(app_client, "operator1")
    refused = await send(app_client, "/api/plans/check", PLAN.replace(*change), name="公需.yaml")
    assert (refused.status_code, refused.json()["code"]) == (422, "plan_unreadable")
    assert field in refused.json()["detail"] and refused.json()["detail"].startswith("公需.yaml: ")
    assert refused.json()["detail_zh"].startswith("公需.yaml：字段无效")


async def test_rules_sizes_and_roles_of_plan_files(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "operator1")
    short = await send(
        app_client, "/api/plans/check", PLAN.replace("required: true", "required: false")
    )
    assert short.json()["detail"].endswith("the required courses offer 0 h, less than 1 h")
    huge = await send(app_client, "/api/plans/check", PLAN + "#" * (1024 * 1024))
    assert (huge.status_code, huge.json()["detail_zh"]) == (413, "请求内容过大。")
    await app_client.post("/auth/logout")
    await sign_in(app_client, LI)
    assert (await send(app_client, "/api/plans/check", PLAN)).status_code == 403
    await app_client.post("/auth/logout")
    await sign_in(app_client, "admin1")
    assert (await send(app_client, "/api/plans/import", PLAN)).status_code == 403


async def test_a_new_price_leaves_orders_placed_before_at_theirs(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "operator1")
    priced = await app_client.put(f"/api/plans/{DEMO_PLAN}/price", json={"price_fen": 3300})
    assert (priced.status_code, priced.json()["unit_fen"]) == (200, 3300), priced.text
    await app_client.post("/auth/logout")
    await sign_in(app_client, LI)
    order = (await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})).json()
    await app_client.post("/auth/logout")
    await sign_in(app_client, "operator1")
    again = await app_client.put(f"/api/plans/{DEMO_PLAN}/price",
                                 json={"price_fen": 100, "price_basis": "hour"})  # fmt: skip
    assert again.json()["price_basis"] == "hour"
    kept = (await app_client.get(f"/api/orders/{order['number']}")).json()["order"]
    assert (kept["unit_fen"], kept["amount_fen"]) == (3300, 3300)
    bad = await app_client.put(f"/api/plans/{DEMO_PLAN}/price", json={"price_fen": -5})
    assert bad.status_code == 422 and "price_fen" in bad.text
    unknown = await app_client.put("/api/plans/nope/price", json={"price_fen": 1})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "plan_not_found")


async def test_a_past_years_plan_stays_open_for_catch_up_study(
    app_client: Client, app_settings: Settings
) -> None:
    """Source 000/001: past years' plans are studied late (补学); nothing closes a plan at
    the end of its year, and its hours count for its own year."""
    world(app_settings)
    await sign_in(app_client, "operator1")
    past = PLAN.replace("key: 2026-公需", "key: 2024-公需").replace("year: 2026", "year: 2024")
    assert (await send(app_client, "/api/plans/import", past)).status_code == 201
    await app_client.post("/auth/logout")
    await sign_in(app_client, LI)
    enrolled = await app_client.post("/api/me/plans/2024-公需")
    assert enrolled.status_code == 200, enrolled.text
    assert [p["progress"]["plan"] for p in enrolled.json()["plans"]] == ["2024-公需"]
    await app_client.post("/auth/logout")
    await sign_in(app_client, "admin1")
    li = next(m for m in (await app_client.get("/api/employer/staff")).json()["staff"]
              if m["name"] == "李四")  # fmt: skip
    assert [(p["plan"], p["year"]) for p in li["plans"]] == [("2024-公需", 2024)]
    assert li["year_hours"] == 0  # this year's requirement is not met by 2024's plan
