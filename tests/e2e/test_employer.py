"""The employer administrator's page in a real browser: their staff, a roster with title
lines uploaded (the summary, the error file downloaded and read), and staff enrolled in
a plan by pasting their ID numbers (see conftest.py)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from playwright.async_api import expect

from api.cli.demo import DEMO_PLAN
from examengine.ids import check_character
from tests.e2e.conftest import Server, sign_in

ADMIN = ("13800000005", "employer-demo-1")
OPERATOR = ("13800000003", "operator-demo-1")


def new_id() -> str:
    year, month, day = (
        1970 + secrets.randbelow(30),
        1 + secrets.randbelow(9),
        10 + secrets.randbelow(9),
    )
    first17 = f"110101{year}0{month}{day}{secrets.randbelow(900) + 100}"
    return first17 + check_character(first17)


async def test_an_administrator_imports_a_roster_and_enrolls_the_new_staff(
    page: Any, tmp_path: Path, shot: Any
) -> None:
    await sign_in(page, *ADMIN)
    await expect(page).to_have_url(re.compile(r"/employer"))
    await expect(page.get_by_role("heading", name="本单位学员")).to_be_visible()
    await expect(page.get_by_role("rowheader", name="张三")).to_be_visible()  # the demo learner

    good = new_id()
    roster = tmp_path / "名单.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["2026 年度继续教育报名表"], ["序号", "姓名", "身份证号码", "手机号码", "性别"],
                [1, "孙八", good, "", ""], [2, "王 五", new_id(), "", ""]):  # fmt: skip
        sheet.append(row)
    book.save(roster)
    await page.get_by_label("名单文件（.xlsx 或 .csv）").set_input_files(str(roster))
    await page.get_by_role("button", name="导入").click()
    result = page.locator("#roster-result")
    await expect(result).to_contain_text("第 2 行为列名。共 2 行：新建 1 个账号")
    await expect(result).to_contain_text("1 行有错误")
    async with page.expect_download() as waiting:
        await result.get_by_role("link", name="下载错误文件（修改后可直接重新上传）").click()
    download = await waiting.value
    saved = tmp_path / "errors.xlsx"
    await download.save_as(str(saved))
    rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "2026 年度继续教育报名表"  # the employer's own title line
    assert rows[2][1] == "王 五" and rows[2][5] == "姓名：姓名中不能有空格"

    await page.get_by_label("身份证号或手机号，每行一个").fill(f"{good}\n12345")
    await page.get_by_role("button", name="报名", exact=True).click()
    await expect(page.locator("#enroll-result")).to_contain_text(
        "新报名 1 人，0 人已报名，1 行未能报名"
    )
    await shot(page, "15-employer")
    await page.get_by_label("姓名、身份证号或手机号").fill("孙八")
    await page.get_by_role("button", name="筛选").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="孙八"))
    await expect(row).to_contain_text("2026 年公需科目")
    await expect(row).to_contain_text("未激活")
    # A link to choose a password, sent from the list (the admin sees no password).
    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="发送设置密码链接：孙八").click()
    await expect(page.locator("#action-status")).to_contain_text("已向 孙八 发送设置密码的链接")


async def test_a_learner_redeems_an_activation_code_on_my_plans(
    browser: Any, page: Any, e2e_server: Server, new_learner: Any, shot: Any, tmp_path: Path
) -> None:
    operator = await browser.new_context(base_url=e2e_server.url)
    try:
        signed = await operator.request.post(
            "/auth/login", data={"login": OPERATOR[0], "password": OPERATOR[1]}
        )
        assert signed.ok
        issued = await operator.request.post(
            "/api/operator/codes", data={"plan": DEMO_PLAN, "count": 1}
        )
        assert issued.ok, await issued.text()
        saved = tmp_path / "codes.xlsx"
        saved.write_bytes(await issued.body())
    finally:
        await operator.close()
    code = str(list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))[1][1])
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    await page.goto("/learner/plans")
    await page.get_by_role("textbox", name="激活码").fill("WRONG-CODE-0000-0000")
    await page.get_by_role("button", name="激活").click()
    await expect(page.locator("#redeem-result")).to_contain_text("激活码不存在，请核对后重新输入")
    await page.get_by_role("textbox", name="激活码").fill(code.lower())
    await page.get_by_role("button", name="激活").click()
    await expect(page.get_by_role("heading", name="2026 年公需科目（演示）")).to_be_visible()
    await shot(page, "16-redeemed")
