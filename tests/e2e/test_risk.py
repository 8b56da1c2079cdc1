"""The proctors' risk page in a real browser, in Chinese and English, on a desktop and a
phone: two learners of one employer sit the demo exam through the API with the same
wrong answers, saved faster than anyone reads, one of them leaving the page, copying
and being taken over; that learner also missed challenges while studying. A proctor
finds them from the live list, reads the flags as badges, opens the evidence, and
downloads the workbook (see conftest.py)."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openpyxl import load_workbook
from playwright.async_api import expect
from sqlmodel import select

from api.cli.demo import DEMO_EXAM
from api.services import attempts
from api.services.passwords import hash_password
from api.store.db import standalone_transaction
from api.store.tables import Chapter, StudyEvent, User
from examengine import credit, integrity, signing
from examengine.ids import check_character
from tests.e2e.conftest import PASSWORD, Server, sign_in

PROCTOR = ("13800000002", "proctor-demo-1")


@pytest.fixture(params=[1280, 390], ids=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return {"width": int(request.param), "height": 900 if request.param > 500 else 844}


@dataclass(frozen=True)
class Person:
    id: int
    login: str
    name: str


def new_id_number() -> str:
    first17 = "500101" + "1985" + "0312" + f"{secrets.randbelow(1000):03d}"
    return first17 + check_character(first17)


def staff_of(server: Server, employer: str, names: tuple[str, ...]) -> list[Person]:
    """Learners of ``employer`` with ID-number logins, enrolled in the demo exam."""
    made = []
    with standalone_transaction(server.database) as db:
        for name in names:
            login = new_id_number()
            while db.exec(select(User.id).where(User.login == login)).first() is not None:
                login = new_id_number()
            user = User(login=login, display_name=name, password_hash=hash_password(PASSWORD),
                        roles=["learner"], must_change_password=False, employer=employer,
                        resident_id=login)  # fmt: skip
            db.add(user)
            db.flush()
            assert user.id is not None
            attempts.enroll(db, learner_id=user.id, exam=DEMO_EXAM, study_met=True,
                            now=server.now_ms())  # fmt: skip
            made.append(Person(id=user.id, login=login, name=name))
    return made


def answer_of(item: dict[str, Any]) -> Any:
    """The same answer for everyone: wrong for multiple choice and fill-in."""
    options = sorted(o["id"] for o in item.get("options", ()))
    return {
        "single": options[-1] if options else None,
        "multiple": options[:1],
        "fill_blank": "不记得了",
        "true_false": False,
    }.get(item["kind"])


async def sit(browser: Any, server: Server, person: Person, *, misbehave: bool) -> str:
    """``person`` sits the exam in a context of their own, answering one item a request
    as fast as the network goes; with ``misbehave`` they also leave the page six times,
    copy once, and finish on a second device that takes the attempt over."""
    first = await browser.new_context(base_url=server.url)
    second = await browser.new_context(base_url=server.url)
    try:
        for context in (first, second) if misbehave else (first,):
            signed = await context.request.post(
                "/auth/login", data={"login": person.login, "password": PASSWORD}
            )
            assert signed.ok, await signed.text()
        started = await first.request.post(f"/api/exams/{DEMO_EXAM}/attempts", data={})
        assert started.status == 201, await started.text()
        paper = await started.json()
        attempt = str(paper["attempt"])
        if misbehave:
            for kind in ["focus_lost"] * 4 + ["fullscreen_exit"] * 2 + ["copy"]:
                sent = await first.request.post(
                    f"/api/attempts/{attempt}/integrity", data={"kind": kind}
                )
                assert sent.ok, await sent.text()
        for n, item in enumerate(paper["items"]):
            save = [{"item": item["item"], "seq": n + 1, "response": answer_of(item)}]
            saved = await first.request.post(f"/api/attempts/{attempt}/answers", data=save)
            assert saved.ok, await saved.text()
        finisher = first
        if misbehave:
            resumed = await second.request.post(f"/api/attempts/{attempt}/resume")
            assert resumed.ok, await resumed.text()
            finisher = second
        done = await finisher.request.post(f"/api/attempts/{attempt}/submit", data={})
        assert done.ok, await done.text()
        return attempt
    finally:
        await first.close()
        await second.close()


def missed_challenges(server: Server, person: Person) -> None:
    """Three missed anti-idle challenges in the learner's first study cycle."""
    with standalone_transaction(server.database) as db:
        chapters = db.exec(select(Chapter).order_by(Chapter.id)).all()[:2]
        now = server.now_ms()
        for n in range(3):
            chapter = chapters[n % 2]
            event = credit.ChallengeMissed(
                learner=person.id,
                chapter=chapter.key,
                at_ms=now - (3 - n) * 600_000,
                seq=n + 1,
                closing=False,
            )
            db.add(StudyEvent(learner_id=person.id, chapter_id=chapter.id or 0, cycle=1,
                              kind="challenge_missed", seq=n + 1, at_ms=event.at_ms,
                              data=msgspec.json.encode(event).decode()))  # fmt: skip


async def test_a_proctor_reads_the_flags_and_their_evidence_in_both_languages(
    page: Any,
    browser: Any,
    e2e_server: Server,
    viewport: dict[str, int],
    shot: Callable[..., Any],
) -> None:
    size = viewport["width"]
    employer = f"重庆市风险演示单位{secrets.token_hex(2)}"
    chen, liu = staff_of(e2e_server, employer, ("陈晓明", "刘芳"))
    mine = await sit(browser, e2e_server, chen, misbehave=True)
    await sit(browser, e2e_server, liu, misbehave=False)
    missed_challenges(e2e_server, chen)
    chen_masked = chen.login[:6] + "*" * 8 + chen.login[-4:]

    await sign_in(page, *PROCTOR)
    await page.wait_for_url("**/proctor")
    await page.get_by_role("link", name="风险提示").click()
    await page.wait_for_url("**/proctor/risk")
    await page.get_by_label("单位（全称）").fill(employer)
    await page.get_by_role("button", name="筛选").click()
    await page.wait_for_url("**/proctor/risk?*")
    attempts_table = page.locator("#risk-attempts")
    row = attempts_table.locator("tbody tr", has=page.get_by_role("rowheader", name="陈晓明"))
    await expect(row).to_contain_text(chen_masked)
    await expect(row).to_contain_text(employer)
    for badge in ("离开考试页面：6 次", "复制或粘贴：1 次", "换设备接管考试：1 次",
                  "作答快于阅读：连续", "错误答案雷同：100%（刘芳）"):  # fmt: skip
        await expect(row.locator(".badge", has_text=badge)).to_have_count(1)
    other = attempts_table.locator("tbody tr", has=page.get_by_role("rowheader", name="刘芳"))
    await expect(other.locator(".badge", has_text="错误答案雷同：100%（陈晓明）")).to_have_count(1)
    assert chen.login not in await page.content()
    cycle = page.locator("#risk-cycles tbody tr", has=page.get_by_role("rowheader", name="陈晓明"))
    await expect(cycle.locator(".badge")).to_have_text("多次未通过防挂机验证：3 次")
    await cycle.locator("summary").click()
    await expect(cycle.locator(".risk-evidence-list li")).to_have_count(3)
    await shot(page, f"risk-list-zh-{size}")

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="导出 Excel（每条提示一行）").click()
    download = await download_info.value
    book = load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert {r[2] for r in rows[1:]} == {"陈晓明", "刘芳"}
    assert len([r for r in rows[1:] if r[2] == "陈晓明"]) == 6  # 5 attempt flags, 1 cycle's

    await row.get_by_role("link", name="查看证据：陈晓明").click()
    await page.wait_for_url(f"**/proctor/risk/attempts/{mine}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("风险提示：陈晓明")
    focus = page.locator(".risk-flag", has=page.get_by_role("heading", name="离开考试页面：6 次"))
    await expect(focus.locator("tbody tr")).to_have_count(6)
    similar = page.locator(".risk-flag", has_text="错误答案雷同")
    await expect(similar).to_contain_text("对照：刘芳")
    await expect(similar.locator("tbody tr").first).to_contain_text("本人：")
    await expect(page.locator("#risk-checks")).to_contain_text("有提示")
    await shot(page, f"risk-attempt-zh-{size}")
    # the signed evidence behind the flags, checked offline as a reviewer would
    async with page.expect_download() as bundle_info:
        await page.get_by_role("link", name="下载签名证据包").click()
    bundle = integrity.decode_bundle(Path(await (await bundle_info.value).path()).read_bytes())
    report = integrity.verify_bundle(bundle, signing.keys_of(bundle.bundle.keys))
    assert report.problems == []
    assert bundle.bundle.subject == {
        "kind": "attempt",
        "attempt": mine,
        "exam": bundle.bundle.subject["exam"],
    }
    kinds = [e.kind for e in bundle.bundle.entries]
    assert kinds.count("focus_lost") >= 1 and "device_taken_over" in kinds
    assert kinds[-1] == "evidence_exported"

    await page.get_by_role("link", name="Switch to English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Risk flags: 陈晓明")
    await expect(page.locator(".risk-flag", has_text="Same wrong answers")).to_contain_text(
        "Compared with: 刘芳"
    )
    await shot(page, f"risk-attempt-en-{size}")
    await page.get_by_role("link", name="Back to the risk flags").click()
    await page.get_by_label("Employer (registered name)").fill(employer)
    await page.get_by_role("button", name="Filter").click()
    await expect(
        page.locator("#risk-attempts .badge", has_text="Left the exam page: 6")
    ).to_have_count(1)
    await expect(page.locator("#risk-cycles .badge")).to_have_text("Missed challenges: 3")
    await shot(page, f"risk-list-en-{size}")
