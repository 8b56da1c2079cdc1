"""The calibration pages in a real browser (docs/decisions/0040): an author calibrates
the demo bank from the list page, opens the new record, reads an item's characteristic
curve (the drawing and its table of numbers), runs DIF between women and men, and looks
at the exam's test information — at 1280 and 390 px, in Chinese and English, with
nothing wider than the phone's screen (see conftest.py for the server and the browser).

The responses are tests.api.test_pages_calibration's simulated cohort: learners with
accounts and formal attempts, one item built harder for women than for men of the same
ability, three items answered by too few learners.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import expect

from api.cli.demo import DEMO_BANK, DEMO_EXAM
from api.store.db import standalone_transaction
from tests.api.test_pages_calibration import (
    DIF_ITEM,
    FEW,
    LEARNER,
    calibrate,
    few_keys,
    publish_equated,
    seed_cohort,
)
from tests.e2e.conftest import Server, sign_in
from tests.server import served_app

AUTHOR = ("13800000001", "author-demo-1")
BANK = f"/author/banks/{quote(DEMO_BANK)}"
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]


async def fits_the_screen(page: Any) -> None:
    """Nothing wider than the window: wide tables scroll in their own box."""
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def numbers(text: str) -> list[float]:
    return [float(n.replace("−", "-")) for n in re.findall(r"[−-]?\d+\.\d+", text)]


@pytest.mark.parametrize("viewport", WIDTHS, ids=["1280", "390"])
async def test_an_author_calibrates_reads_a_curve_and_runs_dif(
    page: Any, e2e_server: Server, shot: Any, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    with standalone_transaction(e2e_server.database) as db:
        keys = seed_cohort(db)
        few_items = few_keys(db)
    await sign_in(page, *AUTHOR)
    await page.goto(f"{BANK}/calibrations")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("试题校准：")
    await fits_the_screen(page)
    await shot(page, f"calibration-list-zh-{width}")

    # calibrate version 1 with the 2PL model: the page opens the new record
    await page.get_by_label("作答来自题库版本").select_option("1")
    await page.get_by_label("模型").select_option("2pl")
    await page.get_by_role("button", name="开始校准").click()
    await page.wait_for_url(re.compile(r"/calibrations/\d+$"), timeout=60_000)
    number = int(page.url.rsplit("/", 1)[-1])
    await expect(page.get_by_role("heading", level=1)).to_contain_text(f"第 {number} 次校准")
    await expect(page.locator("#calibration-notes")).to_contain_text(
        f"{FEW} 道试题作答人数少于 200"
    )
    few = page.locator(f'#params tr[data-key="{few_items[-1]}"]')
    await expect(few.locator('[data-badge="provisional"]')).to_have_text("暂定")
    await fits_the_screen(page)
    await shot(page, f"calibration-record-zh-{width}")

    # read the first item's curve: P at θ = 0 in its table is the 2PL's for its a and b
    row = page.locator(f'#params tr[data-key="{keys[0]}"]')
    a = numbers(await row.locator("td").nth(0).inner_text())[0]
    b = numbers(await row.locator("td").nth(1).inner_text())[0]
    curve = page.locator(f'#params tr[data-curve="{keys[0]}"]')
    await curve.locator("details.icc-details > summary").click()
    chart = curve.locator("figure.curve-chart")
    await expect(chart.get_by_role("img", name="试题特征曲线")).to_be_visible()
    await chart.locator("details.chart-data > summary").click()
    at_zero = chart.locator("tbody tr").nth(4)
    await expect(at_zero.locator("th")).to_have_text("0")
    p = float(await at_zero.locator("td").inner_text())
    assert p == pytest.approx(1 / (1 + math.exp(a * b)), abs=0.011)
    await fits_the_screen(page)
    await shot(page, f"calibration-curve-zh-{width}")

    # DIF: women against men; the item built against women is class C
    await page.get_by_label("分组依据").select_option("gender")
    await page.get_by_label("焦点组").fill("female")
    await page.get_by_label("参照组（可选）").fill("male")
    await page.get_by_role("button", name="分析").click()
    dif = page.locator(f'#dif-table tr[data-key="{keys[DIF_ITEM]}"]')
    await expect(dif).to_have_attribute("data-ets", "C")
    await expect(dif.locator(".ets")).to_contain_text("C（明显，需审查）")
    await expect(page.locator(f'#dif-table tr[data-key="{few_items[-1]}"] .ets')).to_contain_text(
        "人数不足，无法判断"
    )
    await fits_the_screen(page)
    await shot(page, f"calibration-dif-zh-{width}")

    # the same pages in English
    await page.goto(f"{BANK}/calibrations?lang=en")
    await expect(page.get_by_role("button", name="Calibrate", exact=True)).to_be_visible()
    await fits_the_screen(page)
    await shot(page, f"calibration-list-en-{width}")
    await page.goto(
        f"{BANK}/calibrations/{number}?group=gender&focal=female&reference=male&lang=en"
    )
    await expect(page.locator(f'#dif-table tr[data-key="{keys[DIF_ITEM]}"] .ets')).to_contain_text(
        "C (large: review)"
    )
    await expect(few.locator('[data-badge="provisional"]')).to_have_text("provisional")
    await fits_the_screen(page)
    await shot(page, f"calibration-record-en-{width}")

    # the exam's test information
    for lang in ("zh", "en"):
        await page.goto(f"/author/exams/{quote(DEMO_EXAM)}/information?lang={lang}")
        name = "测验信息曲线" if lang == "zh" else "Test information curve"
        await expect(page.get_by_role("img", name=name)).to_be_visible()
        await fits_the_screen(page)
        await shot(page, f"calibration-information-{lang}-{width}")


@pytest.fixture(scope="module")
def equated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own whose demo exam is published on a calibration with the
    equated pass standard (the session's server keeps the raw standard for the others)."""
    with served_app(tmp_path_factory.mktemp("equated")) as app:
        with standalone_transaction(app.database) as db:
            seed_cohort(db)
            publish_equated(db, calibrate(db).number)
        yield app


async def beijing_context(browser: Any, server: Server, viewport: dict[str, int]) -> Any:
    """A browser context on ``server`` in Chinese, on Beijing time."""
    return await browser.new_context(
        base_url=server.url, viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
    )


@pytest.mark.parametrize("viewport", WIDTHS, ids=["1280", "390"])
async def test_the_learner_reads_the_equated_pass_mark_of_their_paper(
    browser: Any, equated_server: Server, shot: Any, viewport: dict[str, int]
) -> None:
    context = await beijing_context(browser, equated_server, viewport)
    try:
        page = await context.new_page()
        await sign_in(page, *LEARNER)
        started = await context.request.post(
            f"/api/exams/{DEMO_EXAM}/attempts", data={"practice": False},
            headers={"x-csrftoken": next(
                c["value"] for c in await context.cookies() if c["name"] == "csrftoken"
            )},
        )  # fmt: skip
        assert started.status == 201, await started.text()
        attempt = (await started.json())["attempt"]
        await page.goto(f"/learner/attempts/{attempt}")
        await page.locator("#submit-button").click()
        await page.get_by_role("dialog").get_by_role("button", name="确认交卷").click()
        await page.wait_for_url(re.compile(rf"/learner/attempts/{attempt}/result$"))
        mark = page.locator("#pass-mark")
        await expect(mark).to_have_attribute("data-standard", "equated")
        await expect(mark).to_contain_text("分（满分")
        await expect(mark).to_contain_text("按等值换算")
        await expect(page.locator("#pass-mark-note")).to_contain_text("能力相同的学员")
        await fits_the_screen(page)
        await shot(page, f"calibration-result-equated-zh-{viewport['width']}")
        await page.goto(f"/learner/attempts/{attempt}/result?lang=en")
        await expect(mark).to_contain_text("points (equated)")
        await expect(page.get_by_text("Pass mark of your paper")).to_be_visible()
        await fits_the_screen(page)
        await shot(page, f"calibration-result-equated-en-{viewport['width']}")
    finally:
        await context.close()


@pytest.mark.parametrize("viewport", WIDTHS, ids=["1280", "390"])
async def test_the_information_of_an_equated_exam_marks_theta_c(
    browser: Any, equated_server: Server, shot: Any, viewport: dict[str, int]
) -> None:
    context = await beijing_context(browser, equated_server, viewport)
    try:
        page = await context.new_page()
        await sign_in(page, *AUTHOR)
        for lang, standard in (("zh", "等值"), ("en", "Equated")):
            await page.goto(f"/author/exams/{quote(DEMO_EXAM)}/information?lang={lang}")
            await expect(page.locator("#pass-standard")).to_contain_text(standard)
            await expect(page.locator("#theta-cut")).to_be_visible()
            await expect(page.locator("line.info-cut")).to_have_count(1)
            await fits_the_screen(page)
            await shot(page, f"calibration-information-equated-{lang}-{viewport['width']}")
    finally:
        await context.close()
