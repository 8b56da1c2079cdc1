"""The employer's side over HTTP: the staff list (own employer only, masked identifiers,
hours against the yearly requirement, exams), its export, enrolling staff in a plan by
pasted ID numbers, and a learner enrolling themself."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlmodel import select

from api.app import create_app
from api.cli.demo import DEMO_PLAN, load_demo
from api.services import accounts
from api.services.passwords import hash_password
from api.settings import Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import Employer, User
from examengine.ids import check_character

Client = AsyncTestClient[Litestar]
PASSWORD = "staff password 1"


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


LI, WANG, OTHER = (resident_id(f"1101011990030712{n}") for n in (3, 4, 5))


def world(settings: Settings) -> None:
    """The demo (its plan and exam), two learners of 一中 (one activated, one not), one of
    二中, an administrator of each and an operator."""
    migrate(settings.database.url)
    with standalone_transaction(settings.database) as db:
        load_demo(db, now=datetime.now(UTC))
        for login, name, employer, password in (
            (LI, "李四", "一中", hash_password(PASSWORD)),
            (WANG, "王五", "一中", accounts.NO_PASSWORD),
            (OTHER, "赵六", "二中", hash_password(PASSWORD)),
        ):
            db.add(User(login=login, display_name=name, password_hash=password,
                        roles=["learner"], must_change_password=False, resident_id=login,
                        phone=f"1390013900{login[-1] if login[-1].isdigit() else 0}",
                        employer=employer))  # fmt: skip
        for login, roles, employer in (
            ("admin1", ["employer_admin"], "一中"),
            ("admin2", ["employer_admin"], "二中"),
            ("operator1", ["operator"], None),
        ):
            db.add(User(login=login, display_name=f"staff {login}", roles=roles,
                        password_hash=hash_password(PASSWORD), must_change_password=False,
                        employer=employer))  # fmt: skip


async def sign_in(client: Client, login: str) -> None:
    reply = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text


async def enroll(client: Client, logins: str, plan: str = DEMO_PLAN, **extra: Any) -> Any:
    return await client.post(
        "/api/employer/enrollments", json={"plan": plan, "logins": logins, **extra}
    )


async def test_an_administrator_sees_their_own_staff_masked_with_hours_and_exams(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "admin1")
    reply = await app_client.get("/api/employer/staff")
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert (page["employer"], page["total"]) == ("一中", 2)
    assert [m["name"] for m in page["staff"]] == sorted(["李四", "王五"])
    li = next(m for m in page["staff"] if m["name"] == "李四")
    assert li["login"] == LI[:6] + "*" * 8 + LI[-4:]  # never the whole ID number
    assert (li["activated"], li["year_required"], li["plans"], li["exams"]) == (True, 90, [], [])
    wang = next(m for m in page["staff"] if m["name"] == "王五")
    assert wang["activated"] is False
    # Another employer's learner is not in it, whatever the query.
    found = (await app_client.get("/api/employer/staff", params={"q": "赵"})).json()
    assert found["total"] == 0


async def test_staff_are_enrolled_by_pasted_id_numbers_line_by_line(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "admin1")
    reply = await enroll(app_client, f"{LI}\n{WANG.lower()}，{OTHER}\n\n{LI}")
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert (report["enrolled"], report["already"], report["failed"]) == (2, 1, 1)
    failed = next(x for x in report["lines"] if x["status"] == "failed")
    assert failed["line"] == 3 and failed["reason_zh"] == "本单位没有使用该身份证号或手机号的学员"
    assert OTHER not in str(report)  # another employer's ID comes back masked
    # Enrolled in the plan and its exam: the list shows both.
    li = next(m for m in (await app_client.get("/api/employer/staff")).json()["staff"]
              if m["name"] == "李四")  # fmt: skip
    assert [p["plan"] for p in li["plans"]] == [DEMO_PLAN]
    assert li["plans"][0]["credit_required"] > 0 and li["year_hours"] == 0
    assert [e["status"] for e in li["exams"]] == ["open"]
    again = (await enroll(app_client, LI)).json()
    assert (again["enrolled"], again["already"]) == (0, 1)
    unknown = await enroll(app_client, LI, plan="no-such-plan")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0] == {
        "field": "plan", "code": "plan_not_found", "message": "there is no plan 'no-such-plan'",
        "message_zh": "学习计划 'no-such-plan' 不存在",
    }  # fmt: skip


async def test_the_staff_list_exports_to_xlsx(app_client: Client, app_settings: Settings) -> None:
    world(app_settings)
    await sign_in(app_client, "admin1")
    await enroll(app_client, LI)
    # The export holds every match, not one page of them.
    reply = await app_client.get("/api/employer/staff", params={"format": "xlsx", "size": 1})
    assert reply.status_code == 200
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(reply.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "姓名 Name"
    by_name = {r[0]: r for r in rows[1:]}
    assert sorted(by_name) == sorted(["李四", "王五"])
    assert by_name["李四"][1] == LI[:6] + "*" * 8 + LI[-4:]
    assert by_name["王五"][3] == "否 no"
    assert "2026 年公需科目" in by_name["李四"][6]


async def test_an_operator_names_the_employer_and_an_administrator_cannot_reach_another(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "operator1")
    missing = await app_client.get("/api/employer/staff")
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "employer")
    named = (await app_client.get("/api/employer/staff", params={"employer": "二中"})).json()
    assert [m["name"] for m in named["staff"]] == ["赵六"]
    await app_client.post("/auth/logout")
    await sign_in(app_client, "admin2")
    # Naming another employer changes nothing for an administrator: their own it is.
    own = (await app_client.get("/api/employer/staff", params={"employer": "一中"})).json()
    assert (own["employer"], [m["name"] for m in own["staff"]]) == ("二中", ["赵六"])
    refused = (await enroll(app_client, LI, employer="一中")).json()
    assert (refused["enrolled"], refused["failed"]) == (0, 1)


async def test_a_learner_enrolls_themself_in_a_plan(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, LI)
    catalog = (await app_client.get("/api/plans")).json()
    assert DEMO_PLAN in [p["plan"] for p in catalog]
    mine = await app_client.post(f"/api/me/plans/{DEMO_PLAN}")
    assert mine.status_code == 200, mine.text
    assert [p["progress"]["plan"] for p in mine.json()["plans"]] == [DEMO_PLAN]
    exams = (await app_client.get("/api/me/exams")).json()["exams"]
    assert len(exams) == 1 and exams[0]["may_start"] is False  # study first
    unknown = await app_client.post("/api/me/plans/nope")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "plan_not_found")


async def test_the_yearly_requirement_is_the_employers_regions(app_settings: Settings) -> None:
    """An employer registered in a region whose hours differ sees that requirement; the
    others the national 90."""
    settings = app_settings.replace(
        study=msgspec.structs.replace(app_settings.study, yearly_hours_by_region=(("上海市", 72),))
    )
    world(settings)
    with standalone_transaction(settings.database) as db:
        row = db.exec(select(Employer).where(Employer.name == "一中")).first()
        db.add(Employer(name="一中") if row is None else row)
        db.flush()
        registered = db.exec(select(Employer).where(Employer.name == "一中")).one()
        registered.region = "上海市"
        db.add(registered)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await sign_in(client, "admin1")
        page = (await client.get("/api/employer/staff")).json()
        assert {m["year_required"] for m in page["staff"]} == {72}
        html = (await client.get("/employer")).text
        assert "每人每年须完成 72 学时" in html
        await client.post("/auth/logout")
        await sign_in(client, "admin2")
        other = (await client.get("/api/employer/staff")).json()["staff"]
        assert {m["year_required"] for m in other} == {90}


async def test_the_staff_list_filters_by_account_and_by_plan(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    await sign_in(app_client, "admin1")
    assert (await enroll(app_client, LI)).json()["enrolled"] == 1

    async def names(**params: str) -> list[str]:
        reply = await app_client.get("/api/employer/staff", params=params)
        assert reply.status_code == 200, reply.text
        return [m["name"] for m in reply.json()["staff"]]

    assert await names(account="not_activated") == ["王五"]
    assert await names(account="activated") == ["李四"]
    assert await names(plan=DEMO_PLAN) == ["李四"]
    assert await names(plan="-") == ["王五"]  # in no plan at all
    assert await names(plan="no-such-plan") == []
    bad = await app_client.get("/api/employer/staff", params={"account": "deleted"})
    assert bad.status_code == 422 and "account" in bad.text
    exported = await app_client.get(
        "/api/employer/staff", params={"account": "not_activated", "format": "xlsx"}
    )
    rows = list(
        load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert [r[0] for r in rows[1:]] == ["王五"]
    page = (await app_client.get("/employer", params={"account": "not_activated"})).text
    assert "王五" in page and "李四" not in page
    assert 'value="not_activated" selected' in page
    assert "account=not_activated" in page  # the export link keeps the filter
