"""The course team's pages in a real browser: upload a bank and read the lint report by
line, import and publish it, browse, preview and edit an item into a new version, build
an exam with the live feasibility check, preview a sample paper, and the item-analysis
charts (see conftest.py for the server and the browser)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import select

from api.store.db import standalone_transaction
from api.store.tables import Bank, BankVersion, ItemResponse
from tests.e2e.conftest import Server, sign_in

AUTHOR = ("13800000001", "author-demo-1")

BAD_GIFT = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~90 学时 ~30 学时}

::law-2:: 公需科目学时可以完全替代专业科目学时。{FALSE}
""".encode()

GOOD_GIFT = """$CATEGORY: 政策法规

::law-1:: 专业技术人员每年参加继续教育不少于多少学时？{=90 学时 ~60 学时 ~30 学时}

::law-2:: 公需科目学时可以完全替代专业科目学时。{FALSE}

::law-3:: 继续教育的内容包括哪些？{~%50%公需科目 ~%50%专业科目 ~%-100%娱乐科目}

::law-4:: 数字经济中最关键的生产要素是____。{=数据 =数据要素}
""".encode()


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


def new_bank() -> str:
    return f"e2e-题库-{secrets.token_hex(3)}"


async def upload(page: Any, bank: str, name: str, data: bytes) -> None:
    await page.goto(f"/author/upload?bank={bank}")
    await page.get_by_label("题库文件").set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": data}
    )
    await page.get_by_role("button", name="检查文件").click()


async def import_published_bank(page: Any) -> str:
    """A bank of the test's own, imported and published through the pages."""
    bank = new_bank()
    await upload(page, bank, "good.gift", GOOD_GIFT)
    await expect(page.locator("#upload-status")).to_have_text("没有发现问题，可以导入。")
    await page.get_by_role("button", name="导入").click()
    await expect(page.locator("#upload-status")).to_contain_text(f"已导入为题库“{bank}”第 1 版")
    await page.get_by_role("link", name="查看该题库").click()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="发布 第 1 版").click()
    await expect(page.locator("#bank-status")).to_have_text("第 1 版已发布。")
    return bank


async def test_an_author_uploads_a_bank_with_an_error_and_sees_its_line(
    page: Any, shot: Any
) -> None:
    await sign_in(page, *AUTHOR)
    await page.wait_for_url("**/author")
    bank = new_bank()
    await upload(page, bank, "bank.gift", BAD_GIFT)
    row = page.locator("#report-table tbody tr").first
    await expect(row.locator(".where")).to_have_text("bank.gift:3:1")
    await expect(row.locator(".code")).to_have_text("duplicate-option")
    await expect(row.locator(".severity")).to_have_text("错误")
    await expect(row.locator(".message")).to_have_text("选项 A 与 B 内容相同：'90 学时'")
    await expect(page.locator("#report-summary")).to_contain_text("1 个错误")
    await expect(page.locator("#upload-status")).to_have_text("请先修改文件中的错误，再重新检查。")
    await expect(page.get_by_role("button", name="导入")).to_be_disabled()
    await shot(page, "author-lint-report")

    await page.goto(page.url.split("?")[0] + f"?bank={bank}&lang=en")
    await page.get_by_label("Bank file").set_input_files(
        {"name": "bank.gift", "mimeType": "text/plain", "buffer": BAD_GIFT}
    )
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.locator("#report-table tbody tr .message").first).to_have_text(
        "options A and B read the same: '90 学时'"
    )
    await page.goto("/author?lang=zh")


async def test_an_author_imports_publishes_browses_previews_and_edits_into_a_new_version(
    page: Any, shot: Any
) -> None:
    await sign_in(page, *AUTHOR)
    bank = await import_published_bank(page)

    await page.get_by_role("link", name="浏览试题").first.click()
    await page.get_by_label("题型").select_option("multiple")
    await page.get_by_role("button", name="搜索").click()
    await expect(page.locator("#items tbody tr")).to_have_count(1)
    await page.get_by_role("link", name="law-3", exact=True).click()
    learner = page.locator(".learner-preview")
    await expect(learner.get_by_label("A. 公需科目")).to_be_visible()
    await expect(learner).not_to_contain_text("正确答案")
    await expect(page.locator(".key-view")).to_contain_text("A. 公需科目")
    await shot(page, "author-item-preview")

    await page.get_by_role("link", name="编辑", exact=True).click()
    await page.get_by_label("题干").fill("继续教育的内容包括下列哪些？（多选）")
    await page.get_by_label("互斥组（可选）").fill("内容")
    await page.get_by_role("button", name="保存").click()
    status = page.locator("#item-status-message")
    await expect(status).to_have_text("已保存到第 2 版（草稿）。")

    # Every option wrong: the lint refuses the edit and says why.
    for n in range(await page.locator(".option-correct").count()):
        await page.locator(".option-correct").nth(n).uncheck()
    await page.get_by_role("button", name="保存").click()
    await expect(status).to_have_text("试题有错误，未保存：")
    await expect(page.locator("#item-problems li").first).to_be_visible()
    await shot(page, "author-item-edit-problems")

    await page.goto(f"/author/banks/{bank}")
    await expect(page.locator("#versions tbody tr")).to_have_count(2)
    await expect(page.locator("#versions tbody tr").first).to_contain_text("草稿")


async def test_an_author_builds_an_exam_with_the_live_check_and_previews_a_sample_paper(
    page: Any, shot: Any
) -> None:
    await sign_in(page, *AUTHOR)
    bank = await import_published_bank(page)
    await page.goto(f"/author/exams/new?bank={bank}")
    key = f"e2e-考试-{secrets.token_hex(3)}"
    await page.get_by_label("考试编号").fill(key)
    await page.get_by_label("考试名称").fill("端到端测试考试")
    section = page.locator(".section-panel").first
    await section.get_by_label("标题").fill("一、单项选择题")
    await section.get_by_label("题型").select_option("single")
    await section.get_by_label("题数").fill("5")
    problems = page.locator("#spec-problems")
    await expect(problems).to_contain_text("需要 5 道单选试题，题库中只有 1 道")
    await expect(section).to_have_class(re.compile("has-problem"))
    await shot(page, "author-spec-problems")

    await section.get_by_label("题数").fill("1")
    await expect(page.locator("#check-status")).to_have_text("可以组卷：每份试卷 1 道题，共 5 分。")
    await page.get_by_role("button", name="添加大题").click()
    second = page.locator(".section-panel").nth(1)
    await second.get_by_label("题型").select_option("true_false")
    await second.get_by_label("每题分值").fill("5")
    await expect(page.locator("#check-status")).to_have_text(
        "可以组卷：每份试卷 2 道题，共 10 分。"
    )
    await expect(problems.locator("li")).to_have_count(0)

    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.locator("#save-status")).to_have_text("已保存为第 1 版（草稿）。")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="发布").click()
    await expect(page.locator("#save-status")).to_have_text("第 1 版已发布。")

    await page.get_by_role("link", name="样卷预览").click()
    await expect(page.locator(".sample-question")).to_have_count(2)
    await page.get_by_label("测试学员编号").fill("测试学员-7")
    await page.get_by_role("button", name="生成样卷").click()
    await expect(page.locator("#sample-summary")).to_contain_text("2 道题，共 10 分")
    await page.locator(".key-details summary").first.click()
    await expect(page.locator(".key-details .key-view").first).to_be_visible()
    await shot(page, "author-sample-paper")


async def test_item_analysis_draws_a_histogram_and_a_scatter_with_flagged_items(
    page: Any, e2e_server: Server, shot: Any
) -> None:
    await sign_in(page, *AUTHOR)
    bank = await import_published_bank(page)
    with standalone_transaction(e2e_server.database) as db:
        version_id = db.exec(select(BankVersion.id).join(Bank).where(Bank.name == bank)).one()
        for learner in range(60):
            strong = learner % 3 != 0
            rows = {
                "law-1": 1.0 if strong else 0.0,  # discriminates
                "law-2": 1.0,  # everyone: too easy
                "law-3": 0.0 if strong else 1.0,  # the strong get it wrong: negative
                "law-4": 1.0 if learner % 2 else 0.0,
            }
            for key, score in rows.items():
                db.add(
                    ItemResponse(
                        bank_version_id=version_id, item_key=key, learner_ref=f"L{learner}",
                        response="A", score=score, max_score=1.0,
                    )
                )  # fmt: skip
    await page.goto(f"/author/banks/{bank}/stats")
    await expect(page.get_by_text("第 1 版：60 名学员，4 道试题。")).to_be_visible()
    histogram = page.locator("#facility-histogram svg")
    await expect(histogram.locator("rect.bar")).to_have_count(10)
    await expect(histogram).to_have_attribute("role", "img")
    scatter = page.locator("#facility-scatter svg")
    # law-2 (everyone right) and law-4 (against a constant rest) have no correlation.
    await expect(scatter.locator(".point")).to_have_count(2)
    await expect(scatter.locator(".point.flagged[data-key='law-3']")).to_have_count(1)
    await expect(page.locator("#stats-table tr.flagged[data-key='law-3']")).to_contain_text(
        "负区分度"
    )
    # Listed by stem, with the key beside it.
    await expect(page.locator("#stats-table tr[data-key='law-3'] th")).to_contain_text(
        "继续教育的内容包括哪些？"
    )
    await shot(page, "author-item-analysis")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"/author/banks/{bank}/stats?lang=en")
    await expect(page.get_by_text("Version 1: 60 learners, 4 items.")).to_be_visible()
    await expect(page.locator("#scatter-caption")).to_have_text(
        "Facility × discrimination (point-biserial)"
    )
    await shot(page, "author-item-analysis-390-en")
    await page.goto("/author?lang=zh")


THREE_ONE_BROKEN = """::q1:: 一加一等于几？{=二 ~三 ~四}

::q2:: 天空是什么颜色{=蓝 ~绿

::q3:: 地球是圆的。{TRUE}
""".encode()


async def test_on_a_phone_each_lint_problem_is_a_card_and_a_clean_file_says_so(
    page: Any, shot: Any
) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, *AUTHOR)
    await upload(page, new_bank(), "three.gift", THREE_ONE_BROKEN)
    await expect(page.locator("#report-summary")).to_have_text(
        "three.gift（GIFT）：3 道试题，1 道有错误；1 个错误，2 个警告。"
    )
    message = page.locator("#report-table tbody tr .message").nth(1)
    await expect(message).to_contain_text("没有用“}”闭合")
    box = await message.bounding_box()
    assert box is not None and box["width"] > 300  # the message has the card's width
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shot(page, "author-lint-report-390-zh")

    await page.goto("/author/upload?lang=en")
    await page.get_by_label("Bank file").set_input_files(
        {"name": "good.gift", "mimeType": "text/plain", "buffer": GOOD_GIFT}
    )
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.locator("#report-summary")).to_have_text(
        "good.gift (GIFT): 4 questions, none with errors; 0 errors, 0 warnings."
    )
    await expect(page.locator("#report-clean")).to_have_text("No problems found.")
    await expect(page.locator("#report-table")).to_be_hidden()
    await expect(page.get_by_label("Format")).to_contain_text("Moodle XML")
    await shot(page, "author-lint-clean-390-en")
    await page.goto("/author?lang=zh")


async def test_an_author_compares_two_versions_of_a_bank(page: Any, shot: Any) -> None:
    await sign_in(page, *AUTHOR)
    bank = await import_published_bank(page)
    await page.goto(f"/author/banks/{bank}/items/law-2/edit")
    await page.get_by_label("题干").fill("公需科目学时能否完全替代专业科目学时？")
    await page.get_by_role("button", name="保存").click()
    await expect(page.locator("#item-status-message")).to_have_text("已保存到第 2 版（草稿）。")

    await page.goto(f"/author/banks/{bank}")
    await page.get_by_role("link", name="第 2 版与上一版比较").click()
    await expect(page.locator("#diff-summary")).to_have_text(
        "第 1 版 → 第 2 版：新增 0 道试题，删除 0 道试题，修改 1 道试题。"
    )
    stem = page.locator(".diff-item[data-key='law-2'] [data-field='stem']")
    await expect(stem.locator(".diff-old")).to_contain_text("可以完全替代")
    await expect(stem.locator(".diff-new")).to_contain_text("能否完全替代")
    await shot(page, "author-diff-1280-zh")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(page.url + "&lang=en")
    await expect(page.locator("#diff-summary")).to_contain_text("1 item changed")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await shot(page, "author-diff-390-en")
    await page.goto("/author?lang=zh")


async def test_an_export_that_loses_something_says_what_before_the_download(
    page: Any, shot: Any
) -> None:
    await sign_in(page, *AUTHOR)
    bank = await import_published_bank(page)
    await page.goto(f"/author/banks/{bank}")
    async with page.expect_download() as native:
        await page.get_by_role("link", name="本系统 YAML/JSON").click()
    assert (await native.value).suggested_filename == f"{bank}-v1.yaml"
    await expect(page.locator("#export-status")).to_contain_text("能完整保存全部试题")
    await expect(page.locator("#export-warnings")).to_be_hidden()

    await page.get_by_role("link", name="Aiken").click()
    warnings = page.locator("#export-warnings")
    await expect(warnings.locator("h3")).to_have_text("导出为 Aiken 时，4 道试题会丢失部分内容：")
    await expect(warnings.locator("li").first).to_contain_text("Aiken 格式无法保存其编号、知识点")
    await expect(warnings.locator("li").nth(1)).to_contain_text("无法以 Aiken 格式导出")
    await shot(page, "author-export-warnings")
    async with page.expect_download() as aiken:
        await page.get_by_role("link", name="仍然下载").click()
    assert (await aiken.value).suggested_filename == f"{bank}-v1.txt"
    await expect(warnings).to_be_hidden()
