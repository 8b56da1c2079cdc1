"""The public verification of certificates in a real browser (see conftest.py): a
personnel bureau's clerk opens /verify/{number} from a certificate's QR code on a phone
(390 px) or types the number at a desk (1280 px), in Chinese and in English, without
signing in; a genuine current certificate shows its holder's name and masked ID number,
a revoked or superseded one says so and when, and nothing personal. The learner finds
the certificate under "我的证书"; an operator revokes one on the certificates page.

The certificates are issued by the service itself (a plan of this module's own, its
hours credited as the study ticker would credit them), signed with the served app's key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import Session, select

from api.services import accounts, certificates, study
from api.services.passwords import hash_password
from api.settings import Settings
from api.store.db import make_engine, session_factory, transaction
from api.store.tables import Certificate, Chapter, ChapterProgress, User
from examengine import credit
from tests.e2e.conftest import PASSWORD, Server, sign_in
from tests.e2e.test_employer import OPERATOR, new_id

PHONE, DESK = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
PLAN = credit.Plan(
    key="2026-证书核验-演示",
    title="2026 年度专业技术人员继续教育公需科目（网络培训）",
    year=2026,
    category="public",
    required_hours=2,
    elective_hours=0,
    courses=(
        credit.PlanCourse(
            required=True,
            course=credit.Course(
                key="证书核验-课程",
                title="课程",
                chapters=(
                    credit.Chapter(
                        key="证书核验-1", title="一", duration_ms=60_000, credit_hours=2
                    ),
                ),
            ),
        ),
    ),
)
EMPLOYER = "重庆市渝中区人民医院"


@dataclass(frozen=True)
class Certified:
    number: str
    login: str
    name: str


def settings_of(server: Server) -> Settings:
    """The served app's settings (its signing key is made in its var folder)."""
    return Settings.from_env(
        {
            "EXAMENGINE_VAR_DIR": str(server.log.parent / "var"),
            "EXAMENGINE_DATABASE_URL": server.database.url,
        }
    )


@contextmanager
def unit(server: Server) -> Iterator[Session]:
    """A unit of work as the served app runs one (its session holds the signing key)."""
    settings = settings_of(server)
    engine = make_engine(settings.database)
    factory = session_factory(engine)
    certificates.bind(factory, settings.records)
    try:
        with transaction(factory) as db:
            yield db
    finally:
        engine.dispose()


def certify(server: Server, name: str) -> Certified:
    """A learner of ``EMPLOYER`` who completed ``PLAN``: the certificate the service
    issues when the hours are credited."""
    login = new_id()
    with unit(server) as db:
        study.save_plan(db, PLAN, now=server.now_ms())
        user = User(
            login=login,
            display_name=name,
            password_hash=hash_password(PASSWORD),
            roles=["learner"],
            must_change_password=False,
            resident_id=login,
            created_at=datetime.now(UTC),
        )
        db.add(user)
        accounts.employ_new(db, [(user, EMPLOYER)], now_ms=server.now_ms(), actor_id=None)
        assert user.id is not None
        study.enroll(db, learner_id=user.id, plan=PLAN.key, now=server.now_ms())
        chapter = db.exec(select(Chapter).where(Chapter.key == "证书核验-1")).one()
        assert chapter.id is not None
        db.add(
            ChapterProgress(
                learner_id=user.id,
                chapter_id=chapter.id,
                cycle=1,
                credited_ms=60_000,
                completed_ms=server.now_ms(),
            )
        )
        db.flush()
        study.refresh_study_met(db, learner_id=user.id, now=server.now_ms())
        row = db.exec(select(Certificate).where(Certificate.learner_id == user.id)).one()
        return Certified(number=row.number, login=login, name=name)


def revoke(server: Server, number: str) -> None:
    with unit(server) as db:
        operator = db.exec(select(User).where(User.login == OPERATOR[0])).one()
        assert operator.id is not None
        certificates.revoke(
            db,
            number=number,
            reason="证书信息有误（核验测试）",
            by_id=operator.id,
            now=server.now_ms(),
        )


def masked(login: str) -> str:
    return login[:6] + "*" * 8 + login[-4:]


@pytest.fixture
def certified(e2e_server: Server) -> Iterator[tuple[Certified, Certified]]:
    """A genuine current certificate and a revoked one."""
    suffix = secrets.token_hex(2)
    genuine = certify(e2e_server, f"欧阳{suffix}")
    revoked = certify(e2e_server, f"司马{suffix}")
    revoke(e2e_server, revoked.number)
    yield genuine, revoked


async def fits(page: Any) -> None:
    """Nothing on the page is wider than the window (no sideways scrolling)."""
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in {widths[1]} px"


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
async def test_a_clerk_verifies_a_genuine_and_a_revoked_certificate_in_both_languages(
    page: Any,
    e2e_server: Server,
    certified: tuple[Certified, Certified],
    shot: Any,
    viewport: dict[str, int],
) -> None:
    genuine, revoked = certified
    size = "desk" if viewport["width"] > 1000 else "phone"
    # Opened from the QR code: no sign-in, Chinese first.
    await page.goto(f"/verify/{genuine.number}")
    verdict = page.locator("[data-verdict]")
    await expect(page.get_by_role("heading", name="证书核验", exact=True)).to_be_visible()
    await expect(verdict).to_have_attribute("data-verdict", "genuine")
    await expect(verdict.get_by_role("heading")).to_have_text("真实有效")
    await expect(verdict).to_contain_text(genuine.number)
    facts = page.locator(".cert-facts")
    await expect(facts).to_contain_text(genuine.name)
    await expect(facts).to_contain_text(masked(genuine.login))
    await expect(facts).to_contain_text(PLAN.title)
    await expect(facts).to_contain_text("必修 2 学时，选修 0 学时，合计 2 学时")
    await expect(facts).to_contain_text("学时已修满")
    body = await page.locator("body").inner_text()
    assert genuine.login not in body and EMPLOYER not in body, "nothing more than name and mask"
    await fits(page)
    await shot(page, f"verify-genuine-zh-{size}")

    await page.get_by_role("link", name="English").click()
    await expect(verdict.get_by_role("heading")).to_have_text("Genuine and current")
    await expect(page.get_by_role("heading", name="Certificate verification")).to_be_visible()
    await expect(facts).to_contain_text("2 h (2 h required, 0 h elective)")
    await expect(facts).to_contain_text("Hours completed")
    await fits(page)
    await shot(page, f"verify-genuine-en-{size}")

    # The revoked one: revoked and when, no name, no reason.
    await page.goto(f"/verify/{revoked.number}?lang=zh")
    await expect(verdict).to_have_attribute("data-verdict", "revoked")
    await expect(verdict.get_by_role("heading")).to_have_text("已撤销")
    await expect(verdict).to_contain_text("被签发机构撤销")
    body = await page.locator("body").inner_text()
    assert revoked.name not in body and "核验测试" not in body and EMPLOYER not in body
    await expect(page.locator(".cert-facts")).to_have_count(0)
    await fits(page)
    await shot(page, f"verify-revoked-zh-{size}")
    await page.goto(f"/verify/{revoked.number}?lang=en")
    await expect(verdict.get_by_role("heading")).to_have_text("Revoked")
    await expect(verdict).to_contain_text("was revoked by its issuer on")
    await fits(page)
    await shot(page, f"verify-revoked-en-{size}")


async def test_a_number_typed_loosely_is_found_and_a_typo_is_caught(
    page: Any, e2e_server: Server, certified: tuple[Certified, Certified], shot: Any
) -> None:
    genuine, _ = certified
    await page.goto("/verify?lang=zh")
    await expect(page.get_by_text("无需登录")).to_be_visible()
    field = page.get_by_label("证书编号")
    # A typo in one character: the check character catches it, the field says so.
    typo = genuine.number[:-2] + ("0" if genuine.number[-2] != "0" else "1") + genuine.number[-1]
    await field.fill(typo)
    await page.get_by_role("button", name="核验").click()
    await expect(page.locator("[data-verdict=malformed]")).to_contain_text("校验位不符")
    await expect(page.get_by_label("证书编号")).to_have_attribute("aria-invalid", "true")
    await shot(page, "verify-typo-zh-phone")
    # Lower case, without the hyphens: found.
    await page.get_by_label("证书编号").fill(genuine.number.replace("-", "").lower())
    await page.get_by_role("button", name="核验").click()
    await page.wait_for_url(f"**/verify/{genuine.number}")
    await expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "genuine")


async def test_the_learner_finds_the_certificate_and_an_operator_revokes_one(
    page: Any, e2e_server: Server, certified: tuple[Certified, Certified], shot: Any
) -> None:
    genuine, _ = certified
    await sign_in(page, genuine.login, PASSWORD)
    await page.get_by_role("navigation").get_by_role("link", name="我的证书").click()
    card = page.locator(f"[data-certificate='{genuine.number}']")
    await expect(card).to_contain_text(PLAN.title)
    await expect(card).to_contain_text("有效")
    await expect(card.get_by_role("link", name=f"下载 PDF：证书 {genuine.number}")).to_be_visible()
    await fits(page)
    await shot(page, "certificates-mine-zh-phone")
    async with page.expect_download() as waiting:
        await card.get_by_role("link", name=f"下载 PDF：证书 {genuine.number}").click()
    download = await waiting.value
    assert download.suggested_filename == f"certificate-{genuine.number}.pdf"

    # An operator revokes it on the certificates page, with a reason.
    await page.context.clear_cookies()
    await sign_in(page, *OPERATOR)
    await page.goto(f"/operator/certificates?q={genuine.number}")
    row = page.locator(f"tr[data-certificate='{genuine.number}']")
    await row.get_by_role("button", name=f"撤销证书 {genuine.number}").click()
    dialog = page.locator("#revoke-dialog")
    await dialog.get_by_role("button", name="撤销").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("请填写撤销原因。")
    await dialog.get_by_label("撤销原因（必填，仅内部记录）").fill("重复发证")
    await dialog.get_by_role("button", name="撤销").click()
    await expect(page.locator("#action-status")).to_have_text(f"证书 {genuine.number} 已撤销。")
    row = page.locator(f"tr[data-certificate='{genuine.number}']")
    await expect(row).to_have_attribute("data-state", "revoked")
    await expect(row).to_contain_text("重复发证")
    await shot(page, "certificates-operator-zh-phone")
    await page.goto(f"/verify/{genuine.number}")
    await expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "revoked")
