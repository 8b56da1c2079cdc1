"""The registration card in a real browser: a learner who studied two plans reads their
card in Chinese and in English, on a desk and on a phone, narrows it to a year and
downloads the PDF; their employer's administrator reaches the same card from the staff
list (see conftest.py)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import col, select

from api.cli.demo import DEMO_EMPLOYER, DEMO_PLAN, DEMO_PRICED_PLAN
from api.services import study
from api.services.passwords import hash_password
from api.store.db import standalone_transaction
from api.store.tables import Chapter as ChapterRow
from api.store.tables import User
from examengine import credit
from examengine.ids import check_character, masked
from tests.e2e.conftest import PASSWORD, Server, sign_in

ADMIN = ("13800000005", "employer-demo-1")
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: Every chapter of the demo's public plan and of its professional one (which shares the
#: digital-economy course).
CHAPTERS = [f"demo-{c}-{n}" for c in ("law", "ethics", "digital", "safety") for n in (1, 2)]


def new_id() -> str:
    born = f"{1970 + secrets.randbelow(30)}0{1 + secrets.randbelow(9)}1{secrets.randbelow(9)}"
    first17 = f"500101{born}{secrets.randbelow(900) + 100}"
    return first17 + check_character(first17)


def studied_learner(server: Server) -> tuple[str, str]:
    """A learner of the demo employer who studied both demo plans to the end (through
    the study ticker's ``persist``): the public one waits for its exam, the professional
    one (no exam) is credited. Their login and name."""
    login, name = new_id(), f"周{secrets.choice('一二三四五六七八九')}"
    now = server.now_ms()
    with standalone_transaction(server.database) as db:
        user = User(login=login, display_name=name, password_hash=hash_password(PASSWORD),
                    roles=["learner"], must_change_password=False, resident_id=login,
                    employer=DEMO_EMPLOYER, gender="female")  # fmt: skip
        db.add(user)
        db.flush()
        assert user.id is not None
        for plan in (DEMO_PLAN, DEMO_PRICED_PLAN):
            study.enroll(db, learner_id=user.id, plan=plan, now=now - 3 * 86_400_000)
        ids = dict(db.exec(select(ChapterRow.key, ChapterRow.id)
                           .where(col(ChapterRow.key).in_(CHAPTERS))).all())  # fmt: skip
        for n, key in enumerate(CHAPTERS):
            at = now - 2 * 86_400_000 + n * 600_000
            grant = study.Grant(
                learner=user.id, chapter_id=ids[key], cycle=1, credited_ms=120_000,
                position_ms=120_000, completed_ms=at,
            )  # fmt: skip
            done = credit.ChapterCompleted(learner=user.id, chapter=key, at_ms=at,
                                           credited_ms=120_000)  # fmt: skip
            event = study.StoredEvent(learner=user.id, chapter_id=ids[key], cycle=1, event=done)
            study.persist(db, study.Batch(now=at, grants=(grant,), events=(event,)))
    return login, name


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_a_learner_reads_their_registration_card_and_downloads_it(
    page: Any, e2e_server: Server, shot: Any, viewport: dict[str, int]
) -> None:
    login, _ = studied_learner(e2e_server)
    size = "desk" if viewport["width"] > 1000 else "phone"
    await sign_in(page, login, PASSWORD)
    await page.get_by_role("link", name="学时登记卡").click()
    await expect(page).to_have_url(re.compile(r"/learner/card$"))
    await expect(page.get_by_role("heading", name="学时登记卡", exact=True)).to_be_visible()
    await expect(page.locator(".card-who")).to_contain_text(masked(login))
    assert login not in await page.content()
    year = page.locator(".card-year").first
    await expect(year.get_by_role("heading")).to_have_text(re.compile(r"^\d{4} 年度$"))
    await expect(year).to_contain_text("2 / 90 学时")  # the professional plan's 2 h
    await expect(year).to_contain_text("尚差 88 学时")
    public = year.get_by_role("row").filter(has_text="2026 年公需科目（演示）")
    await expect(public).to_contain_text("未参加考试")  # studied: the exam waits
    await expect(public).to_contain_text("0 学时")  # nothing recorded before the pass
    await expect(
        year.get_by_role("row").filter(has_text="2026 年专业科目（演示）")
    ).to_contain_text("学时已认定")
    await shot(page, f"30-card-{size}-zh")

    await page.get_by_label("年度", exact=True).select_option(label="2026 年度")
    await page.get_by_role("button", name="查看").click()
    await expect(page).to_have_url(re.compile(r"year=2026"))
    pdf_link = page.get_by_role("link", name="下载 PDF（2026 年度的学时登记卡）")
    href = await pdf_link.get_attribute("href")
    assert href == "/api/me/card?year=2026&format=pdf"
    pdf = await page.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Registration card")).to_be_visible()
    await expect(page.locator(".card-year").first).to_contain_text("2 of 90 hours")
    await expect(page.locator(".card-year").first).to_contain_text("88 hours short")
    await expect(page.get_by_role("link", name=re.compile(r"^Download PDF"))).to_be_visible()
    await shot(page, f"31-card-{size}-en")
    # Nothing sticks out sideways on a phone.
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


@pytest.mark.parametrize("viewport", [DESK], ids=["desk"])
async def test_an_administrator_opens_a_staff_members_card_from_the_list(
    page: Any, e2e_server: Server, shot: Any
) -> None:
    login, name = studied_learner(e2e_server)
    await sign_in(page, *ADMIN)
    await page.get_by_label("姓名、身份证号或手机号").fill(login)
    await page.get_by_role("button", name="筛选").click()
    await page.get_by_role("link", name=name, exact=True).first.click()
    await expect(page.get_by_role("heading", name=f"{name}的学时登记卡")).to_be_visible()
    await expect(page.locator(".card-year").first).to_contain_text("尚差 88 学时")
    href = await page.get_by_role("link", name=re.compile(r"^下载 Excel")).get_attribute("href")
    assert href == f"/api/accounts/{login}/card?format=xlsx"
    await shot(page, "32-card-employer")
