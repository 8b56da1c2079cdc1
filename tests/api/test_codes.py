"""Activation codes over HTTP: an operator's batch as a workbook, a learner redeeming a
code into its plan, and every way a code is refused, in both languages."""

from __future__ import annotations

import io
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlmodel import select

from api.cli.demo import DEMO_PLAN
from api.services import codes
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import AccountEvent, PlanCode
from tests.api.test_employer import LI, OTHER, PASSWORD, sign_in, world

Client = AsyncTestClient[Litestar]


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    """The per-address limit raised, so that the per-account one acts alone here."""
    security = msgspec.structs.replace(settings_sqlite.security, login_attempts_per_minute=10_000)
    return settings_sqlite.replace(security=security)


async def issue(client: Client, **body: Any) -> list[tuple[str, str]]:
    """Signed in as the operator: a batch for the demo plan; (serial, code) pairs."""
    await sign_in(client, "operator1")
    reply = await client.post("/api/operator/codes", json={"plan": DEMO_PLAN, **body})
    assert reply.status_code == 200, reply.text
    await client.post("/auth/logout")
    rows = list(load_workbook(io.BytesIO(reply.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:2] == ("序号 Serial", "激活码 Code")
    return [(str(r[0]), str(r[1])) for r in rows[1:]]


async def redeem(client: Client, code: str) -> Any:
    return await client.post("/api/me/codes", json={"code": code})


async def test_a_code_enrolls_its_learner_once_and_only_its_hash_is_kept(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    batch = await issue(app_client, count=3)
    assert len(batch) == 3 and len({c for _, c in batch}) == 3
    serial, code = batch[0]
    assert len(code.replace("-", "")) == codes.CODE_LENGTH
    assert set(code.replace("-", "")) <= set(codes.ALPHABET)
    with standalone_transaction(app_settings.database) as db:
        stored = db.exec(select(PlanCode)).all()
    assert code not in str([s.model_dump() for s in stored])  # only its SHA-256
    await sign_in(app_client, LI)
    done = await redeem(app_client, code.lower().replace("-", " "))  # as a person types it
    assert done.status_code == 200, done.text
    assert (done.json()["plan"], done.json()["serial"]) == (DEMO_PLAN, serial)
    plans = (await app_client.get("/api/me/plans")).json()["plans"]
    assert [p["progress"]["plan"] for p in plans] == [DEMO_PLAN]
    again = await redeem(app_client, code)
    assert (again.status_code, again.json()["errors"][0]["code"]) == (422, "code_used")
    assert again.json()["errors"][0]["message_zh"] == "该激活码已被使用"


async def test_codes_are_refused_unknown_expired_or_for_another_employer(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    [(_, mine)] = await issue(app_client, count=1, employer="二中")
    await sign_in(app_client, LI)  # of 一中
    other = await redeem(app_client, mine)
    assert other.json()["errors"][0]["code"] == "code_other_employer"
    unknown = await redeem(app_client, "ABCD-EFGH-JKMN-PQRS")
    assert unknown.json()["errors"][0] == {
        "field": "code", "code": "code_unknown",
        "message": "there is no such code: check it and type it again",
        "message_zh": "激活码不存在，请核对后重新输入",
    }  # fmt: skip
    with standalone_transaction(app_settings.database) as db:
        for row in db.exec(select(PlanCode)):
            row.expires_ms, row.employer = 0, None
            db.add(row)
    expired = await redeem(app_client, mine)
    assert expired.json()["errors"][0]["code"] == "code_expired"
    await app_client.post("/auth/logout")
    await sign_in(app_client, OTHER)
    assert (await redeem(app_client, mine)).json()["errors"][0]["code"] == "code_expired"


async def test_an_account_with_too_many_wrong_codes_is_stopped_for_the_hour(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, LI)
    for n in range(codes.MAX_REFUSED_PER_HOUR):
        assert (await redeem(app_client, f"WRONG-{n:04d}")).status_code == 422
    stopped = await redeem(app_client, "WRONG-LAST")
    assert (stopped.status_code, stopped.json()["code"]) == (429, "code_attempts")
    assert "一小时内输错激活码超过" in stopped.json()["detail_zh"]
    with standalone_transaction(app_settings.database) as db:
        refused = db.exec(select(AccountEvent).where(AccountEvent.kind == "code_refused")).all()
    assert len(refused) == codes.MAX_REFUSED_PER_HOUR  # every refusal recorded


async def test_only_operators_issue_and_only_learners_redeem(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "admin1")
    refused = await app_client.post("/api/operator/codes", json={"plan": DEMO_PLAN, "count": 1})
    assert refused.status_code == 403
    assert (await redeem(app_client, "ABCD")).status_code == 403
    await app_client.post("/auth/logout")
    await sign_in(app_client, "operator1")
    too_many = await app_client.post(
        "/api/operator/codes", json={"plan": DEMO_PLAN, "count": codes.MAX_BATCH + 1}
    )
    assert too_many.status_code == 422 and "count" in too_many.text
    unknown = await app_client.post("/api/operator/codes", json={"plan": "nope", "count": 1})
    assert unknown.json()["errors"][0]["field"] == "plan"
    assert PASSWORD  # the shared world's password signs everyone in
