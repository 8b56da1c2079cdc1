"""Accounts over HTTP: self-registration and each of its messages, rosters and their
error files, login by ID number or phone, the per-account lock, resets and roles."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from api.app import create_app
from api.cli.main import main
from api.http.auth import requires_role
from api.http.errors import PROBLEM_JSON
from api.services.accounts import NO_PASSWORD, LockPolicy
from api.services.passwords import hash_password
from api.settings import SecuritySettings, Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import AccountEvent, User
from examengine.clock import ManualClock
from examengine.ids import check_character

Client = AsyncTestClient[Litestar]


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


MAN = resident_id("11010119900307123")  # 17th digit odd: a man
WOMAN = resident_id("11010119900307124")
WITH_X = "11010119900301006X"  # a woman whose check character is X
PASSWORD = "Study2026!"
STAFF_PASSWORD = "staff password 1"


@get("/probe/learner", guards=[requires_role("learner")], sync_to_thread=False)
def learner_page() -> dict[str, str]:
    return {"ok": "learner"}


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    return [learner_page]


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    """The per-address login limit is raised so that only the per-account lock acts."""
    security = SecuritySettings(
        secret_key=settings_sqlite.security.secret_key,
        paper_secret=settings_sqlite.security.paper_secret,
        login_attempts_per_minute=10_000,
    )
    return settings_sqlite.replace(security=security)


AddStaff = Callable[..., None]


@pytest.fixture
def add_staff(app_settings: Settings) -> AddStaff:
    """Create a staff account (password ``staff password 1``) with an employer."""
    migrate(app_settings.database.url)

    def add(login: str, *roles: str, employer: str | None = None) -> None:
        with standalone_transaction(app_settings.database) as db:
            db.add(
                User(
                    login=login, display_name=f"staff {login}",
                    password_hash=hash_password(STAFF_PASSWORD), roles=list(roles),
                    must_change_password=False, employer=employer,
                )
            )  # fmt: skip

    return add


def registration(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "张三",
        "resident_id": MAN,
        "phone": "13800138000",
        "password": PASSWORD,
        "gender": "男",
        "employer": "重庆市第一中学",
        "district": "渝中区",
    }
    return {**body, **changes}


async def login(client: Client, who: str, password: str) -> Any:
    return await client.post("/auth/login", json={"login": who, "password": password})


def stored(client: Client, login: str) -> User:
    """The account ``login`` as the database holds it."""
    with standalone_transaction(client.app.state.settings.database) as db:
        user = db.exec(select(User).where(User.login == login)).one()
        db.expunge(user)
        return user


def sent_links(caplog: pytest.LogCaptureFixture, login: str) -> list[str]:
    """The tokens of the links the app's notifier (the built-in log one) sent ``login``."""
    return [
        r.getMessage().split("/activate#", 1)[1].split(" ", 1)[0]
        for r in caplog.records
        if r.name == "examengine.notices" and f" for {login} " in r.getMessage()
    ]


def only_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "account_invalid"
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


# ---------------------------------------------------------------- self-registration


async def test_a_learner_registers_and_signs_in_with_the_id_number_or_the_phone(
    app_client: Client,
) -> None:
    response = await app_client.post("/auth/register", json=registration())
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "received"
    user = stored(app_client, MAN)
    assert (user.login, user.display_name, user.resident_id, user.phone, user.gender) == (
        MAN, "张三", MAN, "13800138000", "male",
    )  # fmt: skip
    assert user.roles == ["learner"]
    assert user.must_change_password is False
    assert (await login(app_client, MAN, PASSWORD)).status_code == 200
    assert (await login(app_client, "13800138000", PASSWORD)).status_code == 200
    assert (await login(app_client, "+86 138 0013 8000", PASSWORD)).status_code == 200
    assert (await app_client.get("/probe/learner")).json() == {"ok": "learner"}


async def test_an_id_number_ending_in_x_signs_in_typed_with_a_lower_case_x(
    app_client: Client,
) -> None:
    created = await app_client.post(
        "/auth/register", json=registration(resident_id=WITH_X.lower(), gender="女")
    )
    assert created.status_code == 202, created.text
    assert stored(app_client, WITH_X).resident_id == WITH_X
    assert (await login(app_client, WITH_X.lower(), PASSWORD)).status_code == 200
    assert (await login(app_client, f" {WITH_X} ", PASSWORD)).status_code == 200


async def test_the_gender_is_taken_from_the_id_number_when_left_out(app_client: Client) -> None:
    response = await app_client.post("/auth/register", json=registration(gender=""))
    assert response.status_code == 202
    assert stored(app_client, MAN).gender == "male"


@pytest.mark.parametrize(
    ("value", "code", "message", "message_zh"),
    [
        ("11010119900307123", "id_length", "has 18 characters, this one has 17", "应为 18 位"),
        ("11010119900307123A", "id_characters", "17 digits followed by a digit or X",
         "17 位数字加 1 位数字或 X"),
        ("99010119900307123" + "4", "id_region", "99 is not a province code", "前两位 99"),
        ("110101199002301234", "id_birth_date", "(19900230) are not a possible date of birth",
         "不是有效的出生日期"),
        (MAN[:17] + ("0" if MAN[17] != "0" else "1"), "id_checksum",
         f"the last character should be {MAN[17]}", f"校验位应为 {MAN[17]}"),
    ],
)  # fmt: skip
async def test_each_way_an_id_number_can_be_wrong_has_its_own_message(
    app_client: Client, value: str, code: str, message: str, message_zh: str
) -> None:
    response = await app_client.post("/auth/register", json=registration(resident_id=value))
    error = only_error(response)
    assert (error["field"], error["code"]) == ("resident_id", code)
    assert message in error["message"]
    assert message_zh in error["message_zh"]
    body = response.json()
    assert body["detail"].startswith("Please correct: resident ID number: ")
    assert body["detail_zh"].startswith("请更正：身份证号：")


async def test_a_birth_date_in_the_future_is_refused(app_client: Client) -> None:
    response = await app_client.post(
        "/auth/register", json=registration(resident_id=resident_id("11010121990307123"))
    )
    assert only_error(response)["code"] == "id_birth_date"


async def test_a_wrong_phone_number_is_named(app_client: Client) -> None:
    error = only_error(await app_client.post("/auth/register", json=registration(phone="1234")))
    assert (error["field"], error["code"]) == ("phone", "mobile")
    assert "手机号码" in error["message_zh"]


@pytest.mark.parametrize(
    ("name", "code", "message_zh"),
    [
        ("张 三", "name_spaces", "姓名中不能有空格"),
        ("张三（经理）", "name_symbols", "不能有数字或符号（（）"),
        ("张三3", "name_symbols", "3"),
        ("·张三", "name_symbols", "间隔号"),
        ("", "name_required", "姓名不能为空"),
    ],
)
async def test_a_name_with_spaces_digits_or_symbols_is_refused(
    app_client: Client, name: str, code: str, message_zh: str
) -> None:
    error = only_error(await app_client.post("/auth/register", json=registration(name=name)))
    assert (error["field"], error["code"]) == ("name", code)
    assert message_zh in error["message_zh"]
    assert error["message"]


async def test_a_minority_name_may_join_its_parts_with_a_middle_dot(app_client: Client) -> None:
    response = await app_client.post("/auth/register", json=registration(name="阿依古丽·买买提"))
    assert response.status_code == 202
    assert stored(app_client, MAN).display_name == "阿依古丽·买买提"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Ab1!", "password_too_short"),
        ("xkcdquizgraph", "password_too_simple"),
        ("8406172935", "password_too_simple"),
        ("Password1", "password_common"),
        ("pASSWORD1", "password_common"),
        ("edu@" + MAN[-6:], "password_personal"),
        ("pw-13800138000", "password_personal"),
    ],
)
async def test_a_weak_password_is_refused_with_the_reason(
    app_client: Client, password: str, code: str
) -> None:
    error = only_error(
        await app_client.post("/auth/register", json=registration(password=password))
    )
    assert (error["field"], error["code"]) == ("password", code)
    assert error["message"] and error["message_zh"]


async def test_every_invalid_field_is_listed_at_once(app_client: Client) -> None:
    response = await app_client.post(
        "/auth/register",
        json=registration(name="张 三", resident_id="123", phone="x", password="Sh0rt!"),
    )
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["name", "resident_id", "phone", "password"]


async def test_a_gender_the_id_number_contradicts_is_refused(app_client: Client) -> None:
    error = only_error(await app_client.post("/auth/register", json=registration(gender="女")))
    assert (error["field"], error["code"]) == ("gender", "gender_mismatch")
    assert "第 17 位" in error["message_zh"]


async def test_a_registered_id_number_or_phone_gets_the_same_answer_as_a_new_one(
    app_client: Client,
) -> None:
    """Registration must not tell anyone whether an ID number or phone has an account."""
    first = await app_client.post("/auth/register", json=registration())
    same_id = await app_client.post(
        "/auth/register", json=registration(phone="13900139000", password="Other2026!")
    )
    same_phone = await app_client.post(
        "/auth/register", json=registration(resident_id=WOMAN, gender="女")
    )
    answers = [
        (r.status_code, r.headers["content-type"], r.content) for r in (first, same_id, same_phone)
    ]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202
    assert "无法登录" in first.json()["detail_zh"] and "cannot sign in" in first.json()["detail"]
    # Neither made an account nor changed the one there.
    assert (await login(app_client, MAN, "Other2026!")).status_code == 401
    assert (await login(app_client, WOMAN, PASSWORD)).status_code == 401
    assert (await login(app_client, MAN, PASSWORD)).status_code == 200


async def test_an_unknown_field_is_refused(app_client: Client) -> None:
    response = await app_client.post("/auth/register", json=registration(roles=["operator"]))
    assert response.status_code in {400, 422}


# --------------------------------------------------------------------------- roster

HEADER = ["姓名", "身份证号", "手机号", "性别", "备注"]


def roster_rows(existing: str) -> list[list[Any]]:
    return [
        ["李四", WOMAN, "13900139000", "女", "教研组"],               # row 2: created
        ["王 五", resident_id("11010119850101002"), "", "", ""],      # row 3: name
        ["赵六", "110101198501010021", "13700137000", "", ""],         # row 4: checksum?
        ["钱七", 110101198501010030, "", "", ""],                      # row 5: a number
        ["孙八", WOMAN, "", "", ""],                                   # row 6: repeated
        ["周九", existing, "", "男", ""],                              # row 7: registered
        ["吴十", WITH_X.lower(), "137 0013 7001", "", "外聘"],         # row 8: created
        [None, None, None, None, None],                                # blank: ignored
    ]  # fmt: skip


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def csrf_headers(client: Client) -> dict[str, str]:
    """The form token a page would send: Litestar's CSRF cookie, set on any GET."""
    if "csrftoken" not in client.cookies:
        await client.get("/auth/me")
    return {"x-csrftoken": client.cookies["csrftoken"]}


async def upload(client: Client, data: bytes, name: str = "roster.xlsx", fmt: str = "json") -> Any:
    return await client.post(
        f"/api/accounts/roster?format={fmt}", files={"file": (name, data)},
        headers=await csrf_headers(client),
    )  # fmt: skip


async def sign_in_as_operator(client: Client, add_staff: AddStaff) -> None:
    add_staff("operator1", "operator")
    assert (await login(client, "operator1", STAFF_PASSWORD)).status_code == 200


async def test_a_roster_creates_the_good_lines_and_reports_every_other_line(
    app_client: Client, add_staff: AddStaff
) -> None:
    assert (await app_client.post("/auth/register", json=registration())).status_code == 202
    await sign_in_as_operator(app_client, add_staff)
    response = await upload(app_client, xlsx(roster_rows(MAN)))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["lines"], report["created"], report["skipped"], report["failed"]) == (
        7, 2, 1, 4,
    )  # fmt: skip
    by_row = {p["row"]: p for p in report["problems"]}
    assert sorted(by_row) == [3, 4, 5, 6, 7]
    assert by_row[3]["errors"][0]["code"] == "name_spaces"
    assert by_row[3]["reason_zh"] == "姓名：姓名中不能有空格"
    assert by_row[4]["errors"][0]["code"] == "id_checksum"
    assert by_row[5]["errors"][0]["code"] == "id_as_number"
    assert "文本格式" in by_row[5]["reason_zh"]
    assert by_row[6]["errors"][0]["code"] == "id_repeated"
    assert by_row[6]["reason_zh"] == "身份证号：与第 2 行重复"
    assert (by_row[7]["status"], by_row[7]["reason_zh"]) == ("skipped", "该身份证号已注册，已跳过")
    assert all(p["status"] == "failed" for n, p in by_row.items() if n != 7)
    # Row 8's lower-case x was raised, and the importer is told so.
    [warned] = report["warned"]
    assert (warned["row"], warned["status"]) == (8, "created")
    assert warned["warning_zh"] == "身份证号：末位 x 已更正为 X"
    assert warned["warning"] == "resident ID number: the final x was corrected to X"
    assert (report["header_row"], report["header_note_zh"]) == (1, "第 1 行被识别为列名")

    with standalone_transaction(_settings(app_client).database) as db:
        created = {u.login: u for u in db.exec(select(User).where(User.login != MAN)) if
                   "learner" in u.roles}  # fmt: skip
        events = db.exec(select(AccountEvent).where(AccountEvent.kind == "imported")).all()
    assert sorted(created) == sorted([WOMAN, WITH_X])
    assert created[WITH_X].phone == "13700137001"
    assert created[WITH_X].gender == "female"
    assert created[WITH_X].remark == "外聘"
    assert all(u.password_hash == NO_PASSWORD for u in created.values())  # until activated
    assert {e.detail["row"] for e in events} == {2, 8}
    assert {e.actor_id for e in events} == {2}  # the operator


def _settings(client: Client) -> Settings:
    settings: Settings = client.app.state.settings
    return settings


async def test_the_error_file_lists_the_failed_lines_as_they_were_with_the_reason(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    response = await upload(app_client, xlsx(roster_rows(MAN)), fmt="xlsx")
    assert response.status_code == 200
    assert "roster.errors.xlsx" in response.headers["content-disposition"]
    assert response.headers["x-roster-created"] == "3"  # MAN is not registered here
    assert response.headers["x-roster-failed"] == "4"
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == [*HEADER, "错误原因", "Reason", "提示", "Warning", "原行号 Row"]
    assert [r[9] for r in rows[1:]] == ["3", "4", "5", "6"]
    assert rows[1][0:2] == ["王 五", resident_id("11010119850101002")]
    assert rows[1][5] == "姓名：姓名中不能有空格"
    assert rows[1][6] == "name: the name must not contain spaces"

    # Fixed and uploaded again as it is (the reasons and rows included), the file
    # creates the accounts; row 6 repeated row 2, which is registered now.
    fixed = [list(r) for r in rows[1:]]
    fixed[0][0] = "王五"
    fixed[1][1] = resident_id("11010119850101004")
    fixed[2][1] = resident_id("11010119850101005")
    again = await upload(app_client, xlsx(fixed, list(rows[0])))
    report = again.json()
    assert (report["created"], report["skipped"], report["failed"]) == (3, 1, 0), report


async def test_a_gb18030_csv_roster_is_read_and_its_error_file_is_csv(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    text = f"姓名,身份证号,手机号,性别,备注\r\n李四,{WOMAN},13900139000,女,\r\n王 五,{MAN},,,\r\n"
    response = await upload(app_client, text.encode("gb18030"), "名单.csv", fmt="csv")
    assert response.status_code == 200, response.text
    assert response.headers["x-roster-created"] == "1"
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [*HEADER, "错误原因", "Reason", "提示", "Warning", "原行号 Row"]
    assert rows[1][:2] == ["王 五", MAN]
    assert (rows[1][5], rows[1][9]) == ("姓名：姓名中不能有空格", "3")


#: The source platforms' template: a notice's title and an instruction line above the
#: header, a blank line, and a 序号 column.
TEMPLATE_TITLE = [["关于做好 2026 年度专业技术人员继续教育报名工作的通知"],
                  ["请按下列格式填写；身份证号码一列请设为文本格式"], [None]]  # fmt: skip
TEMPLATE_HEADER = ["序号", "姓名", "身份证号码", "手机号码", "性别", "备注"]


def template(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [*TEMPLATE_TITLE, TEMPLATE_HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_employers_template_with_title_lines_is_read_from_its_header_row(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    rows = [
        [1, "李四", WOMAN, "13900139000", "女", "教研组"],      # row 5: created
        [2, "王 五", resident_id("11010119850101002"), "", "", ""],  # row 6: name
    ]  # fmt: skip
    report = (await upload(app_client, template(rows))).json()
    assert (report["created"], report["failed"], report["header_row"]) == (1, 1, 4)
    assert report["header_note_zh"] == "第 4 行被识别为列名；其上 2 行（标题、说明）未作为人员读取"
    assert report["header_note"].startswith("row 4 was taken as the header; the 2 line(s)")
    assert [p["row"] for p in report["problems"]] == [6]
    assert stored(app_client, WOMAN).phone == "13900139000"

    # The error file keeps the employer's layout: the title lines, 序号, their headers.
    response = await upload(app_client, template(rows), fmt="xlsx")
    assert response.headers["x-roster-header-row"] == "4"
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    got = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert got[0][0] == TEMPLATE_TITLE[0][0] and got[1][0] == TEMPLATE_TITLE[1][0]
    assert got[3] == [*TEMPLATE_HEADER, "错误原因", "Reason", "提示", "Warning", "原行号 Row"]
    # Row 5 is skipped now (made by the first upload); row 6 fails again.
    failed = [r for r in got[4:] if r[6] != "该身份证号已注册，已跳过"]
    assert [r[:3] for r in failed] == [["2", "王 五", resident_id("11010119850101002")]]
    assert failed[0][6] == "姓名：姓名中不能有空格"

    # Fixed in place and uploaded again as it is: the header is found again, the
    # added columns are ignored, and the fixed line makes its account.
    fixed = [list(r) for r in got]
    for r in fixed[4:]:
        r[1] = r[1].replace(" ", "")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for r in fixed:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    again = (await upload(app_client, out.getvalue())).json()
    assert (again["created"], again["skipped"], again["failed"]) == (1, 1, 0), again


@pytest.mark.parametrize(
    "header",
    [
        ["姓名（必填）", "身份证号码*", "手机号码"],
        ["姓 名", "公民身份号码", "手机号"],
        ["Name", "ID_Number", "Mobile"],
        ["姓名", "身份证号(必填)", "联系电话"],
    ],
)
async def test_the_column_names_employers_use_are_understood(
    app_client: Client, add_staff: AddStaff, header: list[str]
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    report = (await upload(app_client, xlsx([["李四", WOMAN, "13900139000"]], header))).json()
    assert report["created"] == 1, report
    assert stored(app_client, WOMAN).phone == "13900139000"


async def test_a_roster_whose_first_rows_name_no_columns_is_refused_saying_so(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    response = await upload(app_client, xlsx([["说明"], ["李四", WOMAN]], ["通知"]))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "roster_unreadable"
    assert "前 3 行中没有列名行" in body["detail_zh"]
    assert "none of the first 3 rows names the columns" in body["detail"]


async def test_a_gender_the_id_contradicts_is_a_warning_and_the_id_decides(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    report = (await upload(app_client, xlsx([["李四", WOMAN, "", "男", ""]]))).json()
    assert (report["created"], report["failed"]) == (1, 0)
    [warned] = report["warned"]
    assert warned["warnings"][0]["code"] == "gender_mismatch"
    assert warned["warning_zh"] == (
        "性别：性别与身份证号不符（第 17 位奇数为男，偶数为女），已按身份证号记为女"
    )
    assert warned["warning"].endswith("recorded as the ID number says, female")
    assert stored(app_client, WOMAN).gender == "female"


async def test_warnings_block_their_lines_when_the_importer_asks(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    rows = [["李四", WOMAN, "", "男", ""], ["吴十", WITH_X.lower(), "", "", ""],
            ["张三", MAN, "", "", ""]]  # fmt: skip
    response = await app_client.post(
        "/api/accounts/roster?warnings=block&format=csv",
        files={"file": ("roster.xlsx", xlsx(rows))}, headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert (response.headers["x-roster-created"], response.headers["x-roster-failed"]) == ("1", "2")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    reasons = {line[9]: line[5] for line in lines[1:]}
    assert reasons["2"].endswith("已按身份证号记为女（本次导入设定：有提示的行不导入）")
    assert reasons["3"] == "身份证号：末位 x 已更正为 X（本次导入设定：有提示的行不导入）"
    assert stored(app_client, MAN).display_name == "张三"


async def test_all_or_nothing_makes_no_account_when_a_line_fails(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    rows = [["李四", WOMAN, "", "", ""], ["王 五", MAN, "", "", ""]]
    response = await app_client.post(
        "/api/accounts/roster?mode=all", files={"file": ("roster.xlsx", xlsx(rows))},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    report = response.json()
    assert (report["created"], report["failed"], report["held_back"]) == (0, 1, 1), report
    with standalone_transaction(_settings(app_client).database) as db:
        assert db.exec(select(User).where(User.login.in_([WOMAN, MAN]))).all() == []  # type: ignore[attr-defined]
    # Fixed, the same roster makes both.
    rows[1][0] = "王五"
    again = await app_client.post(
        "/api/accounts/roster?mode=all", files={"file": ("roster.xlsx", xlsx(rows))},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert (again.json()["created"], again.json()["held_back"]) == (2, 0)


async def test_registration_says_a_lower_case_x_was_corrected(app_client: Client) -> None:
    response = await app_client.post(
        "/auth/register", json=registration(resident_id=WITH_X.lower(), gender="女")
    )
    assert response.status_code == 202, response.text
    [notice] = response.json()["notices"]
    assert (notice["code"], notice["message_zh"]) == ("id_x_corrected", "末位 x 已更正为 X")
    assert stored(app_client, WITH_X).resident_id == WITH_X
    plain = await app_client.post("/auth/register", json=registration(phone="13800138001"))
    assert plain.json()["notices"] == []


async def test_a_roster_without_the_id_column_is_refused_as_a_whole(
    app_client: Client, add_staff: AddStaff
) -> None:
    await sign_in_as_operator(app_client, add_staff)
    response = await upload(app_client, xlsx([["李四", "x"]], ["姓名", "电话"]))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "roster_unreadable"
    assert "缺少 身份证号 列" in body["detail_zh"]
    assert "missing 身份证号" in body["detail"]
    old = await upload(app_client, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "roster.xls")
    assert old.json()["code"] == "roster_unreadable"
    assert ".xlsx" in old.json()["detail_zh"]


async def test_only_employer_administrators_and_operators_import_rosters(
    app_client: Client, add_staff: AddStaff
) -> None:
    assert (await upload(app_client, xlsx([]))).status_code == 401
    add_staff("author1", "author")
    assert (await login(app_client, "author1", STAFF_PASSWORD)).status_code == 200
    assert (await upload(app_client, xlsx([]))).status_code == 403


async def test_an_imported_learner_sets_the_password_from_the_link_they_were_sent(
    app_client: Client, add_staff: AddStaff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="examengine.notices")
    add_staff("admin1", "employer_admin", employer="重庆市第一中学")
    assert (await login(app_client, "admin1", STAFF_PASSWORD)).status_code == 200
    report = (await upload(app_client, xlsx([["李四", WOMAN, "13900139000", "女", ""]]))).json()
    assert report["created"] == 1
    assert "activate#" not in str(report)  # the admin never sees the link
    await app_client.post("/auth/logout")

    # No password works until the link is used; the old guessable one least of all.
    refused = await login(app_client, WOMAN, "edu@" + WOMAN[-6:])
    assert refused.status_code == 401
    assert "激活链接" in refused.json()["detail_zh"]
    [token] = sent_links(caplog, WOMAN)
    page = await app_client.get("/activate")
    assert page.status_code == 200 and "设置密码" in page.text
    weak = await app_client.post(
        "/auth/activate", json={"token": token, "new_password": "x" + WOMAN[-6:] + "a"},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "new_password"
    done = await app_client.post(
        "/auth/activate", json={"token": token, "new_password": PASSWORD},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert (done.json()["login"], done.json()["must_change_password"]) == (WOMAN, False)
    assert (await app_client.get("/probe/learner")).json() == {"ok": "learner"}
    again = await app_client.post(
        "/auth/activate", json={"token": token, "new_password": "Another-2026"},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (410, "activation_invalid")
    assert "已失效" in again.json()["detail_zh"] and "cannot be used" in again.json()["detail"]
    await app_client.post("/auth/logout")
    assert (await login(app_client, "13900139000", PASSWORD)).status_code == 200
    assert stored(app_client, WOMAN).employer == "重庆市第一中学"  # the administrator's own


async def test_an_account_still_on_the_old_initial_password_must_change_it_at_sign_in(
    app_client: Client,
) -> None:
    """Accounts made before activation links kept ``edu@`` + the ID's last six: whoever
    signs in with it must change it first, whatever the account's flag said."""
    await app_client.post("/auth/register", json=registration())
    old = "edu@" + MAN[-6:]
    with standalone_transaction(_settings(app_client).database) as db:
        user = db.exec(select(User).where(User.login == MAN)).one()
        user.password_hash, user.must_change_password = hash_password(old), False
        db.add(user)
    signed_in = await login(app_client, MAN, old)
    assert signed_in.json()["must_change_password"] is True
    assert (await app_client.get("/probe/learner")).json()["code"] == "password_change_required"
    assert stored(app_client, MAN).must_change_password is True


def test_the_command_line_imports_a_roster_and_writes_the_error_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("EXAMENGINE_")]:
        if not name.startswith("EXAMENGINE_TEST_"):
            monkeypatch.delenv(name)
    env = {
        "EXAMENGINE_VAR_DIR": str(tmp_path / "var"),
        "EXAMENGINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    roster = tmp_path / "staff.xlsx"
    roster.write_bytes(xlsx([["李四", WOMAN, "", "女", ""], ["王 五", MAN, "", "", ""]]))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    links = tmp_path / "links.csv"
    result = runner.invoke(main, ["user", "import", str(roster), "--links", str(links)], env=env)
    assert result.exit_code == 1, result.output
    assert "read 2 lines in" in result.output
    # The new account's link, to hand on (the phone masked); nothing else holds it.
    [header, line] = list(csv.reader(io.StringIO(links.read_bytes().decode("utf-8-sig"))))
    assert header[0] == "账号 Login" and line[:3] == [WOMAN, "李四", ""]
    assert line[3].startswith("http://127.0.0.1:8000/activate#") and len(line[3]) > 60
    assert "row 3: failed: 姓名：姓名中不能有空格" in result.output
    assert (
        "2 lines: 1 created (0 with warnings), 0 skipped (registered already), 1 failed"
        in result.output
    )
    assert "第 1 行被识别为列名 (row 1 was taken as the header)" in result.output
    errors = tmp_path / "staff.errors.xlsx"
    sheet = load_workbook(errors).worksheets[0]
    assert [c.value for c in sheet[2]][:2] == ["王 五", MAN]
    again = runner.invoke(main, ["user", "import", str(roster)], env=env)
    assert "1 skipped" in again.output


# ---------------------------------------------------------------------- login lock


async def test_five_failures_in_a_row_lock_the_account_even_for_the_right_password(
    app_client: Client,
) -> None:
    await app_client.post("/auth/register", json=registration())
    codes = [(await login(app_client, MAN, "wrong")).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 401]
    fifth = await login(app_client, MAN, "wrong")
    assert fifth.status_code == 429
    assert fifth.json()["code"] == "account_locked"
    assert 850 <= int(fifth.headers["retry-after"]) <= 900
    locked = await login(app_client, "13800138000", PASSWORD)  # by phone: the same account
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "account_locked"
    assert "Beijing time" in body["detail"] and "15 minute(s)" in body["detail"]
    assert "北京时间" in body["detail_zh"] and "15 分钟后再试" in body["detail_zh"]
    # Other accounts are not affected.
    await app_client.post(
        "/auth/register",
        json=registration(resident_id=WOMAN, gender="女", phone="13900139000"),
    )
    assert (await login(app_client, WOMAN, PASSWORD)).status_code == 200


async def test_a_successful_login_clears_the_failures(app_client: Client) -> None:
    await app_client.post("/auth/register", json=registration())
    for _ in range(2):
        assert [(await login(app_client, MAN, "wrong")).status_code for _ in range(4)] == [401] * 4
        assert (await login(app_client, MAN, PASSWORD)).status_code == 200


async def test_an_unknown_login_locks_like_a_known_one(app_client: Client) -> None:
    answers = [(await login(app_client, MAN, "wrong")).json()["code"] for _ in range(6)]
    assert answers == ["invalid_credentials"] * 4 + ["account_locked"] * 2


async def test_the_lock_policy_can_be_set_on_the_app_state(app_client: Client) -> None:
    app_client.app.state.login_lock = LockPolicy(max_failures=2, lock_s=60)
    await app_client.post("/auth/register", json=registration())
    codes = [(await login(app_client, MAN, "wrong")).status_code for _ in range(2)]
    assert codes == [401, 429]
    assert int((await login(app_client, MAN, PASSWORD)).headers["retry-after"]) <= 60


async def test_the_lock_lifts_when_its_time_is_up_on_the_apps_clock(
    app_settings: Settings,
) -> None:
    clock = ManualClock(1_700_000_000_000)
    migrate(app_settings.database.url)
    async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as client:
        await client.post("/auth/register", json=registration())
        assert [(await login(client, MAN, "wrong")).status_code for _ in range(5)][-1] == 429
        clock.advance(15 * 60_000 - 1)
        assert (await login(client, MAN, PASSWORD)).json()["code"] == "account_locked"
        clock.advance(1)
        assert (await login(client, MAN, PASSWORD)).status_code == 200


@pytest.mark.redis
async def test_with_redis_the_lock_is_shared_by_all_workers(settings_redis: Settings) -> None:
    security = SecuritySettings(
        secret_key="k" * 40, paper_secret="p" * 40, login_attempts_per_minute=10_000
    )
    settings = settings_redis.replace(security=security)
    migrate(settings.database.url)
    async with (
        AsyncTestClient(app=create_app(settings)) as first,
        AsyncTestClient(app=create_app(settings)) as second,
    ):
        assert (await first.post("/auth/register", json=registration())).status_code == 202
        for client in (first, second, first, second):
            assert (await login(client, MAN, "wrong")).status_code == 401
        assert (await login(second, MAN, "wrong")).status_code == 429
        assert (await login(first, MAN, PASSWORD)).json()["code"] == "account_locked"


# ------------------------------------------------------------- resets and roles


async def test_an_employer_administrator_resets_a_learner_who_is_sent_a_link(
    app_client: Client, add_staff: AddStaff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="examengine.notices")
    await app_client.post("/auth/register", json=registration())
    for _ in range(5):
        await login(app_client, MAN, "forgotten")
    add_staff("admin1", "employer_admin", employer="重庆市第一中学")
    assert (await login(app_client, "admin1", STAFF_PASSWORD)).status_code == 200

    reset = await app_client.post(f"/api/accounts/{MAN}/reset-password", json={})
    assert reset.status_code == 200, reset.text
    assert set(reset.json()) == {"account", "how", "link_expires_ms"}  # no password in it
    assert reset.json()["how"] == "link"
    chose = await app_client.post(
        f"/api/accounts/{MAN}/reset-password", json={"password": "Temporary-2026"}
    )
    assert (chose.status_code, chose.json()["code"]) == (403, "password_not_yours_to_choose")
    with standalone_transaction(_settings(app_client).database) as db:
        event = db.exec(select(AccountEvent).where(AccountEvent.kind == "password_reset")).one()
    assert (event.actor_id, event.detail) == (2, {"password": "link"})

    await app_client.post("/auth/logout")
    assert (await login(app_client, MAN, PASSWORD)).status_code == 401  # the old one is gone
    [token] = sent_links(caplog, MAN)
    done = await app_client.post(
        "/auth/activate", json={"token": token, "new_password": "Renewed-2026"},
        headers=await csrf_headers(app_client),
    )  # fmt: skip
    assert done.status_code == 200, done.text
    await app_client.post("/auth/logout")
    signed_in = await login(app_client, "13800138000", "Renewed-2026")  # the lock is lifted
    assert (signed_in.status_code, signed_in.json()["must_change_password"]) == (200, False)


async def test_an_employer_administrator_cannot_reset_nor_find_another_employers_learner(
    app_client: Client, add_staff: AddStaff
) -> None:
    await app_client.post("/auth/register", json=registration())
    add_staff("admin2", "employer_admin", employer="另一单位")
    add_staff("operator1", "operator")
    assert (await login(app_client, "admin2", STAFF_PASSWORD)).status_code == 200
    # Another employer's learner, a staff account and no account at all answer alike:
    # an employer administrator cannot tell which logins exist.
    replies = [
        await app_client.post(f"/api/accounts/{login}/reset-password", json={})
        for login in (MAN, "operator1", "nobody")
    ]
    assert [(r.status_code, r.json()["code"]) for r in replies] == [(404, "account_not_found")] * 3


async def test_an_operator_resets_any_account_by_link_or_to_a_chosen_password(
    app_client: Client, add_staff: AddStaff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="examengine.notices")
    add_staff("author1", "author")
    add_staff("operator1", "operator")
    assert (await login(app_client, "operator1", STAFF_PASSWORD)).status_code == 200
    weak = await app_client.post("/api/accounts/author1/reset-password", json={"password": "short"})
    assert weak.status_code == 422
    chosen = await app_client.post(
        "/api/accounts/author1/reset-password", json={"password": "Temporary-2026"}
    )
    assert chosen.json()["how"] == "chosen"
    await app_client.post("/auth/logout")
    again = await login(app_client, "author1", "Temporary-2026")
    assert again.json()["must_change_password"] is True
    await app_client.post("/auth/logout")
    assert (await login(app_client, "operator1", STAFF_PASSWORD)).status_code == 200
    linked = await app_client.post("/api/accounts/author1/reset-password", json={})
    assert linked.json()["how"] == "link"
    assert len(sent_links(caplog, "author1")) == 1


async def test_an_operator_changes_roles_which_take_effect_at_the_next_login(
    app_client: Client, add_staff: AddStaff
) -> None:
    await app_client.post("/auth/register", json=registration())
    add_staff("operator1", "operator")
    assert (await login(app_client, "operator1", STAFF_PASSWORD)).status_code == 200
    changed = await app_client.post(
        f"/api/accounts/{MAN.lower()}/roles", json={"roles": ["proctor", "learner"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["learner", "proctor"]
    unknown = await app_client.post(f"/api/accounts/{MAN}/roles", json={"roles": ["admin"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "roles"
    own = await app_client.post("/api/accounts/operator1/roles", json={"roles": ["author"]})
    assert (own.status_code, own.json()["code"]) == (403, "own_operator_role")
    await app_client.post("/auth/logout")
    assert (await login(app_client, MAN, PASSWORD)).json()["roles"] == ["learner", "proctor"]
    refused = await app_client.post("/api/accounts/operator1/roles", json={"roles": ["learner"]})
    assert refused.status_code == 403
