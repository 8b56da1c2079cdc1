"""Employers over HTTP, on SQLite and on PostgreSQL: the operators' registry
(``/api/operator/employers``: staff counts, registering with a checked credit code),
moving a learner to another employer with the history kept
(``PUT /api/accounts/{login}/employer``), and reading that history
(``GET /api/accounts/{login}/employment``): operators, and the learner's current
employer's administrator only."""

from __future__ import annotations

import io
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import Workbook

from api.cli.main import main
from api.services import accounts
from api.services.passwords import hash_password
from api.settings import DatabaseSettings, Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import User
from examengine.ids import check_character

Client = AsyncTestClient[Litestar]
PASSWORD = "staff password 1"
T0 = 1_796_000_000_000


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


LI, WANG, ZHAO = (resident_id(f"1101011990030712{n}") for n in (3, 4, 5))


@pytest.fixture(params=["sqlite", "postgres"])
def app_settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    if request.param == "sqlite":
        return settings_sqlite
    request.applymarker(pytest.mark.postgres)
    url = str(request.getfixturevalue("postgres_url"))
    return settings_sqlite.replace(database=DatabaseSettings(url=url))


@pytest.fixture
def world(app_settings: Settings) -> None:
    """Two learners of 一中 and one of 二中, an administrator of each, an operator: every
    employer given the way the app gives it (``employ_new``), so each has its history."""
    migrate(app_settings.database.url)
    hashed = hash_password(PASSWORD)
    with standalone_transaction(app_settings.database) as db:
        people = [
            (User(login=login, display_name=name, password_hash=hashed, roles=roles,
                  must_change_password=False), employer)
            for login, name, roles, employer in (
                (LI, "李四", ["learner"], "一中"), (WANG, "王五", ["learner"], "一中"),
                (ZHAO, "赵六", ["learner"], "二中"),
                ("admin1", "管理员甲", ["employer_admin"], "一中"),
                ("admin2", "管理员乙", ["employer_admin"], "二中"),
                ("operator1", "运维", ["operator"], None),
            )
        ]  # fmt: skip
        db.add_all([user for user, _ in people])
        accounts.employ_new(db, people, now_ms=T0, actor_id=None)


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    reply = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text


async def move(client: Client, login: str, employer: str | None) -> Any:
    return await client.put(f"/api/accounts/{login}/employer", json={"employer": employer})


async def history(client: Client, login: str) -> Any:
    return await client.get(f"/api/accounts/{login}/employment")


def spans(reply: Any) -> list[tuple[str, bool]]:
    """(employer, still open) of each span, oldest first."""
    assert reply.status_code == 200, reply.text
    return [(s["employer"], s["end_ms"] is None) for s in reply.json()["history"]]


def problem(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    assert body["detail"] and body["detail_zh"]
    return body


# ----------------------------------------------------------------- moving people


async def test_an_operator_moves_a_learner_twice_and_the_history_keeps_every_employer(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "operator1")
    assert spans(await history(app_client, LI)) == [("一中", True)]
    moved = await move(app_client, LI, "二中")
    assert spans(moved) == [("一中", False), ("二中", True)]
    record = moved.json()
    assert (record["login"], record["name"], record["employer"]) == (
        LI[:6] + "*" * 8 + LI[-4:], "李四", "二中",
    )  # fmt: skip
    first, second = record["history"]
    assert first["end_ms"] == second["start_ms"] >= first["start_ms"] == T0
    assert spans(await move(app_client, LI, "三中（分校）")) == [
        ("一中", False), ("二中", False), ("三中(分校)", True),
    ]  # fmt: skip
    # Moving someone where they are changes nothing; null takes them out of any.
    assert len((await move(app_client, LI, "三中(分校)")).json()["history"]) == 3
    assert spans(await move(app_client, LI, None)) == [
        ("一中", False), ("二中", False), ("三中(分校)", False),
    ]  # fmt: skip
    # The staff list follows the current employer.
    staff = await app_client.get("/api/employer/staff", params={"employer": "一中"})
    assert [m["name"] for m in staff.json()["staff"]] == ["王五"]


async def test_an_administrator_reads_their_own_staffs_history_and_moves_nobody(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "admin1")
    assert spans(await history(app_client, LI)) == [("一中", True)]
    # Another employer's learner, a staff account and no account at all answer alike.
    for login in (ZHAO, "admin2", "nobody"):
        assert problem(await history(app_client, login), 404)["code"] == "account_not_found"
    # Neither into their employer, nor out of it, nor anyone elsewhere: operators move.
    for login, to in ((ZHAO, "一中"), (LI, None), (LI, "二中"), (ZHAO, "二中")):
        refused = problem(await move(app_client, login, to), 403)
        assert refused["code"] == "forbidden"
    await sign_in(app_client, "admin2")
    assert problem(await history(app_client, LI), 404)["code"] == "account_not_found"
    assert spans(await history(app_client, ZHAO)) == [("二中", True)]
    # Once moved by an operator, the learner is the new employer's to read.
    await sign_in(app_client, "operator1")
    assert (await move(app_client, LI, "二中")).status_code == 200
    await sign_in(app_client, "admin2")
    assert spans(await history(app_client, LI)) == [("一中", False), ("二中", True)]
    await sign_in(app_client, "admin1")
    assert (await history(app_client, LI)).status_code == 404


async def test_a_learner_reads_nobodys_history_through_this_route(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, LI)
    assert (await history(app_client, LI)).status_code == 403
    assert (await move(app_client, LI, "二中")).status_code == 403


async def test_a_bad_employer_name_is_a_422_naming_the_field_in_both_languages(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "operator1")
    for name, code in (("   ", "employer_required"), ("一中\n二中", "employer_one_line")):
        body = problem(await move(app_client, LI, name), 422)
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("employer", code)]
        assert body["detail"].startswith("Please correct: employer: ")
        assert body["detail_zh"].startswith("请更正：单位：")
    too_long = problem(await move(app_client, LI, "单" * 201), 422)
    assert "employer" in str(too_long["errors"])
    unknown = problem(await app_client.put(f"/api/accounts/{LI}/employer",
                                           json={"employer": "一中", "since": 1}), 422)  # fmt: skip
    assert "unknown field `since`" in unknown["errors"][0]["message"]
    assert spans(await history(app_client, LI)) == [("一中", True)]  # nothing moved


# --------------------------------------------------------------- the registry


async def test_an_operator_lists_employers_with_their_learners_now(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "operator1")
    listed = await app_client.get("/api/operator/employers")
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [(e["name"], e["staff"]) for e in page["employers"]] == [("一中", 2), ("二中", 1)]
    assert page["total"] == 2
    await move(app_client, LI, "二中")
    found = (await app_client.get("/api/operator/employers", params={"q": "二"})).json()
    assert [(e["name"], e["staff"]) for e in found["employers"]] == [("二中", 2)]
    await sign_in(app_client, "admin1")
    assert (await app_client.get("/api/operator/employers")).status_code == 403


async def test_an_operator_registers_an_employer_once_with_a_checked_credit_code(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "operator1")
    made = await app_client.post(
        "/api/operator/employers",
        json={"name": "腾讯", "credit_code": "9144030071526726xg", "region": "深圳市南山区"},
    )
    assert made.status_code == 201, made.text
    assert made.json() == {"name": "腾讯", "credit_code": "9144030071526726XG",
                           "region": "深圳市南山区", "staff": 0}  # fmt: skip
    for body, field in (({"name": "腾讯"}, "name"),
                        ({"name": "腾讯科技", "credit_code": "9144030071526726XG"}, "credit_code"),
                        ({"name": "一中"}, "name")):  # fmt: skip
        conflict = problem(await app_client.post("/api/operator/employers", json=body), 409)
        assert conflict["code"] == "employer_exists"
        assert [e["field"] for e in conflict["errors"]] == [field]
    bad = problem(await app_client.post(
        "/api/operator/employers", json={"name": "新单位", "credit_code": "9144030071526726XH"}
    ), 422)  # fmt: skip
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [
        ("credit_code", "credit_code_checksum")
    ]
    assert "unified social credit code: the last character should be G" in bad["detail"]
    assert "统一社会信用代码：校验位应为 G" in bad["detail_zh"]
    blank = problem(await app_client.post("/api/operator/employers", json={"name": " "}), 422)
    assert blank["errors"][0]["field"] == "name" and "单位名称" in blank["detail_zh"]
    listed = (await app_client.get("/api/operator/employers")).json()
    assert [e["name"] for e in listed["employers"]] == sorted(["一中", "二中", "腾讯"])


# -------------------------------------------------- every way an employer is given


async def test_registration_and_an_administrators_roster_open_employments(
    app_client: Client, world: None
) -> None:
    woman = resident_id("11010119920307124")
    registered = await app_client.post("/auth/register", json={
        "name": "孙七", "resident_id": woman, "phone": "13900139000", "password": "Study2026!",
        "employer": "二中",
    })  # fmt: skip
    assert registered.status_code == 202, registered.text
    other = resident_id("11010119850101002")
    book = Workbook()
    for row in (["姓名", "身份证号", "单位"], ["周八", other, "别的单位"]):
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    await sign_in(app_client, "admin1")
    await app_client.get("/auth/me")  # the form token's cookie
    imported = await app_client.post(
        "/api/accounts/roster", files={"file": ("roster.xlsx", data.getvalue())},
        headers={"x-csrftoken": app_client.cookies["csrftoken"]},
    )  # fmt: skip
    assert imported.status_code == 200 and imported.json()["created"] == 1, imported.text
    assert spans(await history(app_client, other)) == [("一中", True)]  # the admin's own
    await sign_in(app_client, "operator1")
    assert spans(await history(app_client, woman)) == [("二中", True)]
    counts = (await app_client.get("/api/operator/employers")).json()["employers"]
    assert [(e["name"], e["staff"]) for e in counts] == [("一中", 3), ("二中", 2)]


def test_the_command_line_gives_an_administrator_their_employer_with_its_history(
    migrated_cli_env: dict[str, str],
) -> None:
    runner = CliRunner()
    args = ["user", "add", "13800000008", "--role", "employer_admin", "--password", PASSWORD]
    added = runner.invoke(main, [*args, "--employer", " 一中（本部） "], env=migrated_cli_env)
    assert added.exit_code == 0, added.output
    assert "added user 13800000008 (employer_admin) of 一中(本部)" in added.output
    database = DatabaseSettings(url=migrated_cli_env["EXAMENGINE_DATABASE_URL"])
    with standalone_transaction(database) as db:
        found = accounts.find_account(db, "13800000008")
        assert found is not None and found.id is not None
        spans = accounts.employment_history(db, found.id)
    assert [(s.employer, s.end_ms) for s in spans] == [("一中(本部)", None)]
    refused = runner.invoke(main, [*args[:2], "13800000007", *args[3:], "--employer", " "],
                            env=migrated_cli_env)  # fmt: skip
    assert refused.exit_code == 2
    assert refused.output == (
        "examengine: error: employer: the employer's name is required / 单位名称不能为空\n"
    )


async def test_an_operator_gives_a_registered_employer_its_code_and_region(
    app_client: Client, world: None
) -> None:
    await sign_in(app_client, "operator1")
    assert (
        await app_client.post("/api/operator/employers", json={"name": "三中"})
    ).status_code == 201
    given = await app_client.put(
        "/api/operator/employers/三中",
        json={"credit_code": "9144030071526726xg", "region": "上海市"},
    )
    assert given.status_code == 200, given.text
    assert (given.json()["credit_code"], given.json()["region"]) == ("9144030071526726XG", "上海市")
    bad = await app_client.put(
        "/api/operator/employers/三中", json={"credit_code": "91440300715267260X"}
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "credit_code")
    await app_client.post("/api/operator/employers", json={"name": "四中"})
    taken = await app_client.put(
        "/api/operator/employers/四中", json={"credit_code": "9144030071526726XG"}
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "employer_exists")
    unknown = await app_client.put("/api/operator/employers/无此单位", json={"region": "北京市"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "employer_not_found")
    assert unknown.json()["detail_zh"] == "单位“无此单位”未登记。"
    cleared = await app_client.put("/api/operator/employers/三中", json={})
    assert (cleared.json()["credit_code"], cleared.json()["region"]) == (None, None)
