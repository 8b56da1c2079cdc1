"""Training plans in a real browser (see conftest.py), on a phone: an author checks a bad
plan file and reads the field named, in Chinese and in English; checks a good priced
plan, reads what it holds, stores it and finds it in the list; an operator reprices a
plan (a mistyped price and one over the limit refused first) and the list shows it.

The plans are the tests' own (keys, courses and chapters: chapter keys are global), so
the demo plans stay as the other browser tests expect them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from playwright.async_api import expect

from api.cli.demo import demo_plan
from api.services import study
from api.store.db import standalone_transaction
from tests.e2e.conftest import Server, sign_in

AUTHOR = ("13800000001", "author-demo-1")
OPERATOR = ("13800000003", "operator-demo-1")


def plan_file(tag: str, *, extra: str = "") -> bytes:
    """A professional plan of 2 credit hours at ¥2.50 an hour (¥5.00 a person)."""
    return f"""key: e2e-计划-{tag}
title: 2026 专业科目 {tag}
year: 2026
category: professional
required_hours: 2
elective_hours: 0
price_fen: 250
price_basis: hour{extra}
courses:
  - required: true
    course:
      key: e2e-课程-{tag}
      title: 工程伦理
      chapters:
        - {{key: e2e-{tag}-1, title: 第一章, duration_ms: 1800000, credit_hours: 1}}
        - {{key: e2e-{tag}-2, title: 第二章, duration_ms: 1800000, credit_hours: 1}}
""".encode()


async def choose(page: Any, label: str, name: str, data: bytes) -> None:
    await page.get_by_label(label, exact=True).set_input_files(
        {"name": name, "mimeType": "application/x-yaml", "buffer": data}
    )


async def test_an_author_checks_a_bad_file_then_stores_a_priced_plan(page: Any, shot: Any) -> None:
    tag = secrets.token_hex(3)
    await sign_in(page, *AUTHOR)
    await page.get_by_role("navigation").get_by_role("link", name="学习计划").click()
    await expect(page.get_by_role("heading", name="学习计划", exact=True)).to_be_visible()
    status = page.locator("#plan-status")
    store = page.get_by_role("button", name="保存", exact=True)

    # A bad file: refused, naming the file and the field; nothing to store.
    await choose(page, "学习计划文件", "坏计划.yaml", plan_file(tag, extra="\nyear_hours: 3"))
    await page.get_by_role("button", name="检查", exact=True).click()
    await expect(status).to_contain_text("文件未通过检查：坏计划.yaml：字段无效")
    await expect(status).to_contain_text("year_hours")
    await expect(page.locator("#plan-summary")).to_be_hidden()
    await expect(store).to_be_disabled()
    bad_price = plan_file(tag).replace(b"price_fen: 250", b"price_fen: -1")
    await choose(page, "学习计划文件", "坏计划.yaml", bad_price)
    await page.get_by_role("button", name="检查", exact=True).click()
    await expect(status).to_contain_text("$.price_fen")
    await shot(page, "plans-refused")

    # A good one: what it holds, in words; stored, it is in the list.
    await choose(page, "学习计划文件", "计划.yaml", plan_file(tag))
    await page.get_by_role("button", name="检查", exact=True).click()
    await expect(status).to_have_text(
        f"文件没有问题，可以保存。这是一个新的学习计划（编号“e2e-计划-{tag}”）。"
    )
    summary = page.locator("#summary-list")
    await expect(summary).to_contain_text("专业科目")
    await expect(summary).to_contain_text("必修 2 + 选修 0 学时")
    await expect(summary).to_contain_text("1 门")
    await expect(summary).to_contain_text("2 章")
    await expect(summary).to_contain_text("系统默认策略")
    await expect(summary).to_contain_text("¥5.00（每学时 ¥2.50）")
    await expect(page.locator(f'#plans-table tr[data-plan="e2e-计划-{tag}"]')).to_have_count(0)
    await store.click()
    await expect(status).to_have_text(f"已保存学习计划“2026 专业科目 {tag}”，列表已更新。")
    row = page.locator(f'#plans-table tr[data-plan="e2e-计划-{tag}"]')
    await expect(row).to_contain_text(f"2026 专业科目 {tag}")
    await expect(row).to_contain_text("专业科目")
    await expect(row).to_contain_text("¥5.00（每学时 ¥2.50）")
    await expect(store).to_be_disabled()
    await shot(page, "plans-stored")

    # Checked again, the same key says it would update the stored plan.
    await page.get_by_role("button", name="检查", exact=True).click()
    await expect(status).to_have_text(
        f"文件没有问题，可以保存。已有编号为“e2e-计划-{tag}”的学习计划，保存后将更新它。"
    )

    # The refusal in the page's language.
    await page.goto("/author/plans?lang=en")
    await choose(page, "Plan file", "bad.yaml", bad_price)
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.locator("#plan-status")).to_contain_text("The file is refused: bad.yaml: ")
    await expect(page.locator("#plan-status")).to_contain_text("$.price_fen")
    await page.goto("/author/plans?lang=zh")


@pytest.fixture
def own_plan(e2e_server: Server) -> Iterator[tuple[str, str]]:
    """A free plan of this test's own, like the demo plan (2 + 1 h)."""
    tag = secrets.token_hex(3)
    courses = tuple(
        msgspec.structs.replace(
            c, course=msgspec.structs.replace(
                c.course, key=f"{c.course.key}-{tag}",
                chapters=tuple(msgspec.structs.replace(ch, key=f"{ch.key}-{tag}")
                               for ch in c.course.chapters),
            ),
        )
        for c in demo_plan().courses
    )  # fmt: skip
    plan = msgspec.structs.replace(
        demo_plan(), key=f"e2e-定价-{tag}", title=f"定价演示 {tag}", courses=courses, exam=None
    )
    with standalone_transaction(e2e_server.database) as session:
        study.save_plan(session, plan, now=e2e_server.now_ms())
    yield plan.key, plan.title


async def test_an_operator_reprices_a_plan(page: Any, own_plan: tuple[str, str], shot: Any) -> None:
    key, title = own_plan
    await sign_in(page, *OPERATOR)
    await page.goto("/author/plans")
    row = page.locator(f'#plans-table tr[data-plan="{key}"]')
    await expect(row.locator(".badge")).to_have_text("免费")
    await row.get_by_role("button", name=f"修改“{title}”的价格").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(title)
    await expect(dialog).to_contain_text("此前已下的订单保持下单时的价格")
    price = dialog.get_by_label("价格（元）")
    await expect(price).to_have_value("0.00")

    # A mistyped price, then one over the limit (the API's refusal).
    await price.fill("三十三")
    await dialog.get_by_role("button", name="保存价格").click()
    await expect(dialog.locator(".dialog-error")).to_have_text(
        "请按“33”或“2.50”的格式填写价格（元）。"
    )
    await price.fill("200000")
    await dialog.get_by_role("button", name="保存价格").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("以下字段无效：price_fen。")

    # By the credit hour: 1.5 yuan × 3 h; the dialog says what a person pays.
    await price.fill("1.5")
    await expect(dialog.locator(".dialog-error")).to_have_text("")  # it spoke of 200000
    await dialog.get_by_label("计价方式").select_option("hour")
    await expect(dialog.locator("#price-preview")).to_have_text("每人：¥4.50（每学时 ¥1.50）")
    await shot(page, "plans-reprice")
    await dialog.get_by_role("button", name="保存价格").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#action-status")).to_have_text(
        f"“{title}”的价格已改为 ¥4.50（每学时 ¥1.50）；此前的订单保持原价。"
    )
    await expect(row).to_contain_text("¥4.50（每学时 ¥1.50）")

    # And back to one price a person.
    await row.get_by_role("button", name=f"修改“{title}”的价格").click()
    await expect(price).to_have_value("1.50")
    await expect(dialog.get_by_label("计价方式")).to_have_value("hour")
    await price.fill("33")
    await dialog.get_by_label("计价方式").select_option("person")
    await dialog.get_by_role("button", name="保存价格").click()
    await expect(row).to_contain_text("¥33.00（按人计价）")
