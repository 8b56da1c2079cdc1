"""The training plans page (``/author/plans``) without a browser (the browser journey is
tests/e2e/test_plans.py): who may open it, and what it shows — categories in words,
hours, the exam each plan unlocks by its title, one person's price in yuan with its
basis, or free — in Chinese and in English; every control labelled; the price dialog
for operators only."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli.demo import DEMO_PLAN, DEMO_PRICED_PLAN, demo_plan, load_demo
from api.services import study
from api.settings import Settings
from api.store.db import standalone_transaction
from tests.api.test_pages_author import (
    AUTHOR,
    LEARNER,
    OPERATOR,
    PROCTOR,
    assert_labelled,
    data_block,
    page,
    sign_in,
)

Client = AsyncTestClient[Litestar]
EMPLOYER_ADMIN = ("13800000005", "employer-demo-1")
URL = "/author/plans"


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    security = msgspec.structs.replace(settings_sqlite.security, login_attempts_per_minute=10_000)
    return settings_sqlite.replace(security=security)


@pytest.fixture
async def demo(app_client: Client, app_settings: Settings) -> Client:
    """The demo: a free public plan unlocking the demo exam, a professional plan at
    ¥2.50 a credit hour (2 h: ¥5.00 a person)."""
    with standalone_transaction(app_settings.database) as db:
        load_demo(db, now=datetime.now(UTC))
    return app_client


def row_of(html: str, plan: str) -> str:
    """The table row of ``plan`` (its markup up to the row's end)."""
    start = html.index(f'<tr data-plan="{plan}">')
    return html[start : html.index("</tr>", start)]


# --------------------------------------------------------------------------- guards
async def test_a_visitor_is_sent_to_sign_in_and_back(demo: Client) -> None:
    answer = await demo.get(URL, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=%2Fauthor%2Fplans"


@pytest.mark.parametrize(
    ("account", "home"),
    [(LEARNER, "/learner/exams"), (PROCTOR, "/proctor"), (EMPLOYER_ADMIN, "/employer")],
)
async def test_other_roles_are_sent_to_their_own_home(
    demo: Client, account: tuple[str, str], home: str
) -> None:
    await sign_in(demo, account)
    answer = await demo.get(URL, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (302, home)


# ---------------------------------------------------------------------------- author
async def test_an_author_sees_the_plans_in_words_and_yuan(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), URL)
    assert '<a href="/author/plans" aria-current="page">学习计划</a>' in html
    free, priced = row_of(html, DEMO_PLAN), row_of(html, DEMO_PRICED_PLAN)
    assert "2026 年公需科目（演示）" in free and ">公需科目<" in free
    assert "必修 2 + 选修 1 学时" in free
    # the exam by its title, linked to its spec; the key is not shown
    assert ">2026 年度公需科目考试（演示）</a>" in free
    assert 'href="/author/exams/%E5%85%AC' in free
    assert '<span class="badge badge--ok">免费</span>' in free
    assert ">专业科目<" in priced and "必修 2 + 选修 0 学时" in priced
    assert "¥5.00（每学时 ¥2.50）" in priced
    assert ">无<" in priced  # the priced demo plan unlocks no exam
    # an author checks and stores files but does not change prices
    assert 'data-action="reprice"' not in html and "price-dialog" not in html
    assert_labelled(html)
    assert '<label for="plan-file">学习计划文件</label>' in html
    assert data_block(html) == {
        "exams": {"公需科目-演示考试": "2026 年度公需科目考试（演示）"},
        "operator": False,
        "max_fen": 10_000_000,
    }


async def test_the_page_in_english(demo: Client) -> None:
    html = await page(await sign_in(demo, AUTHOR), URL + "?lang=en")
    free, priced = row_of(html, DEMO_PLAN), row_of(html, DEMO_PRICED_PLAN)
    assert ">Public subjects<" in free and "2 required + 1 elective h" in free
    assert '<span class="badge badge--ok">Free</span>' in free
    assert ">Professional subjects<" in priced
    assert "¥5.00 (¥2.50 a credit hour)" in priced
    assert ">Training plans</a>" in html and '<label for="plan-file">Plan file</label>' in html
    for chinese in ("公需科目<", "专业科目<", "免费", "每学时", "学习计划文件"):
        assert chinese not in html
    # the script's words come in the page's language too
    assert '"js.author_plans.category.public": "Public subjects"' in html


async def test_a_stored_plan_shows_its_exam_not_yet_created_and_its_price_by_the_person(
    demo: Client, app_settings: Settings
) -> None:
    plan = msgspec.structs.replace(
        demo_plan(), key="2027-公需", title="2027 公需科目", year=2027, exam="2027-考试",
        price_fen=3300,
    )  # fmt: skip
    with standalone_transaction(app_settings.database) as db:
        study.save_plan(db, plan, now=0)
    html = await page(await sign_in(demo, AUTHOR), URL)
    row = row_of(html, "2027-公需")
    assert "2027-考试（尚未建立）" in row and "<a " not in row
    assert "¥33.00（按人计价）" in row
    # the newest year first
    assert html.index('data-plan="2027-公需"') < html.index(f'data-plan="{DEMO_PLAN}"')
    english = await page(demo, URL + "?lang=en")
    assert "2027-考试 (not created yet)" in english and "¥33.00 (a person)" in english


# -------------------------------------------------------------------------- operator
async def test_an_operator_may_change_a_price_and_is_told_orders_keep_theirs(
    demo: Client,
) -> None:
    html = await page(await sign_in(demo, OPERATOR), URL)
    row = row_of(html, DEMO_PRICED_PLAN)
    assert 'aria-label="修改“2026 年专业科目（演示）”的价格"' in row
    assert 'data-yuan="2.50" data-basis="hour"' in row and 'data-hours="2.0"' in row
    assert '<label for="price-yuan">价格（元）</label>' in html
    assert '<label for="price-basis">计价方式</label>' in html
    assert "此前已下的订单保持下单时的价格" in html
    assert "0 表示免费；最高 100,000 元" in html
    assert_labelled(html)
    assert data_block(html)["operator"] is True

    repriced = await demo.put(
        f"/api/plans/{DEMO_PRICED_PLAN}/price", json={"price_fen": 3300, "price_basis": "person"}
    )
    assert repriced.status_code == 200, repriced.text
    row = row_of(await page(demo, URL), DEMO_PRICED_PLAN)
    assert "¥33.00（按人计价）" in row and 'data-yuan="33.00" data-basis="person"' in row
    english = await page(demo, URL + "?lang=en")
    assert "orders placed before keep the price they were placed at" in english
    assert 'aria-label="Change the price of “2026 年专业科目（演示）”"' in english
