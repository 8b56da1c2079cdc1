"""Item texts as rich text with the bank's images, in a real browser (decision 0032): a
Moodle XML bank whose stems carry bold text and an embedded image; the learner's exam
page and the author's preview show both, and the image loads (the learner may fetch
it: it is on their paper). Screenshots at 390 and 1280 px, in Chinese and English."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import expect

from api.services import attempts, banks, exams
from api.store.db import standalone_transaction
from tests.api.test_media import bank_file
from tests.e2e.conftest import Learner, Server, sign_in
from tests.unit.itembank.test_media import png

AUTHOR = ("13800000001", "author-demo-1")
DESKTOP = {"width": 1280, "height": 900}
#: An image wider than a phone, and a table and a list after it.
WIDE = png(640, 160, (200, 30, 30))
MORE = (
    "<table><tr><th>元件</th><th>电压 U<sub>1</sub></th><th>电流</th>"
    "<th>功率 10<sup>3</sup></th></tr>"
    "<tr><td>电阻 R<sub>1</sub></td><td>220 V</td><td>0.5 A</td><td>110 W</td></tr></table>"
    "<ul><li>不计导线电阻</li><li>电源内阻为零</li></ul>"
)


@pytest.fixture(scope="module")
def image_exam(e2e_server: Server) -> tuple[str, str]:
    """A bank of the module's own with images, published, and an exam on it: (bank, exam)."""
    token = secrets.token_hex(3)
    bank, exam = f"e2e-图片题库-{token}", f"e2e-pic-{token}"
    now = datetime.now(UTC)
    spec = {
        "key": exam, "title": "看图考试", "bank": bank, "bank_version": 1, "duration_s": 1200,
        "sections": [{"title": "单选题", "kind": "single", "count": 2, "points": 5}],
    }  # fmt: skip
    with standalone_transaction(e2e_server.database) as db:
        data = bank_file(stem_image=WIDE, more=MORE)
        banks.import_file(db, data=data, source="pic.xml", bank=bank, now=now)
        banks.publish(db, bank=bank, version=1, now=now)
        saved = exams.save_spec(db, exams.convert_spec(spec, source="spec"), now=now)
        exams.publish(db, exam=exam, version=saved.version.version, now=now)
    return bank, exam


async def image_loaded(page: Any, selector: str) -> None:
    """Waits until the image at ``selector`` has loaded (the 640 px wide test image), then
    checks that it, and the page, fit the width."""
    await page.wait_for_function(
        "s => { const i = document.querySelector(s);"
        " return i && i.complete && i.naturalWidth === 640 }",
        arg=selector,
    )
    fits = await page.evaluate(
        "s => { const i = document.querySelector(s);"
        " return i.getBoundingClientRect().width <= i.closest('.stem').clientWidth"
        " && document.documentElement.scrollWidth <= window.innerWidth }",
        selector,
    )
    assert fits, "the image or the page is wider than the screen"


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, DESKTOP], ids=["390", "1280"])
async def test_the_exam_page_shows_the_stem_s_bold_text_and_its_image(
    page: Any,
    shot: Any,
    e2e_server: Server,
    new_learner: Callable[..., Learner],
    image_exam: tuple[str, str],
    viewport: dict[str, int],
) -> None:
    _, exam = image_exam
    learner = new_learner()
    with standalone_transaction(e2e_server.database) as db:
        attempts.enroll(
            db, learner_id=learner.id, exam=exam, study_met=True, now=e2e_server.now_ms()
        )
    await sign_in(page, learner.login, learner.password)
    await page.goto(f"/learner/exams/{exam}/rules")
    await page.get_by_role("button", name="开始考试").click()
    await page.wait_for_url("**/learner/attempts/*")
    question = page.locator("#q-1")
    await expect(question.locator(".stem strong")).to_contain_text("看图")
    image = question.locator(".stem img")
    await expect(image).to_have_attribute("alt", "电路图")
    await expect(question.locator(".stem table td").first).to_have_text("电阻 R1")
    await expect(question.locator(".stem li")).to_have_count(2)
    assert (await image.get_attribute("src") or "").startswith("/media/")
    await image_loaded(page, "#q-1 .stem img")
    # the stem's image is the learner's own to fetch; the page has no external image
    sources = await page.eval_on_selector_all("img", "imgs => imgs.map(i => i.src)")
    assert sources and all(s.startswith(e2e_server.url + "/media/") for s in sources)
    width = viewport["width"]
    await shot(page, f"item-media-exam-{width}-zh")
    await page.goto(page.url + "?lang=en")
    await expect(page.locator("#q-1 .stem strong")).to_contain_text("看图")
    await image_loaded(page, "#q-1 .stem img")
    await shot(page, f"item-media-exam-{width}-en")
    await page.goto(page.url.split("?")[0] + "?lang=zh")


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, DESKTOP], ids=["390", "1280"])
async def test_the_author_s_preview_shows_the_bold_text_and_the_image(
    page: Any, shot: Any, image_exam: tuple[str, str], viewport: dict[str, int]
) -> None:
    bank, _ = image_exam
    await sign_in(page, *AUTHOR)
    await page.goto(f"/author/banks/{bank}/items/pic-1")
    preview = page.locator(".learner-preview")
    await expect(preview.locator(".stem strong")).to_have_text("看图 1")
    await image_loaded(page, ".learner-preview .stem img")
    # the explanation (the key's side) shows its own image
    await expect(page.locator("dd.rich img")).to_have_count(1)
    width = viewport["width"]
    await shot(page, f"item-media-preview-{width}-zh")
    await page.goto(page.url + "?lang=en")
    await image_loaded(page, ".learner-preview .stem img")
    await shot(page, f"item-media-preview-{width}-en")
    await page.goto(page.url.split("?")[0] + "?lang=zh")
