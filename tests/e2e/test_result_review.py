"""The result page after an attempt whose spec shows the key (decision 0031), in a real
browser: the exam's title (not its key), the score against the pass mark, pass or fail,
the attempts left and what to do next, and a review of each question — its stem, the
options, the learner's answer, the key, the points and the explanation — written out,
not as JSON; in Chinese and in English, on a phone and a desktop."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import expect

from api.services import attempts, banks, exams
from api.store.db import standalone_transaction
from tests.api.test_attempts import MARK, RIGHT, SPEC, WRONG, marked_bank
from tests.e2e.conftest import Learner, sign_in
from tests.e2e.test_learner_exam import ATTEMPT_URL, DESKTOP
from tests.server import Server

TITLE = "复习演示考试"


@pytest.fixture
def review_exam(e2e_server: Server) -> str:
    """An exam of this test's own on the marked bank (two of each kind), showing the key
    after the close; returns its key."""
    suffix = secrets.token_hex(3)
    key, bank = f"复习-{suffix}", f"复习题库-{suffix}"
    now = datetime.now(UTC)
    with standalone_transaction(e2e_server.database) as session:
        banks.import_file(session, data=marked_bank(), source="b.yaml", bank=bank, now=now)
        banks.publish(session, bank=bank, version=1, now=now)
        spec = {**SPEC, "key": key, "bank": bank, "title": TITLE}
        saved = exams.save_spec(session, exams.convert_spec(spec, source="spec"), now=now)
        exams.publish(session, exam=key, version=saved.version.version, now=now)
    return key


@pytest.fixture
def enrolled(e2e_server: Server, new_learner: Any, review_exam: str) -> Callable[[], Learner]:
    def make() -> Learner:
        learner: Learner = new_learner()
        with standalone_transaction(e2e_server.database) as session:
            attempts.enroll(session, learner_id=learner.id, exam=review_exam, study_met=True,
                            now=e2e_server.now_ms())  # fmt: skip
        return learner

    return make


async def sit_and_pass(page: Any, exam: str) -> str:
    """Start the exam from my exams; every answer right but the single choice's; submit
    on the page. Returns the attempt."""
    await page.goto("/learner/exams")
    await (
        page.locator(f".card[data-exam='{exam}']")
        .get_by_role("link", name="查看考试须知并开始")
        .click()
    )
    await page.get_by_role("button", name="开始考试").click()
    await page.wait_for_url(ATTEMPT_URL)
    match = ATTEMPT_URL.search(page.url)
    assert match is not None
    attempt = match.group(1)
    paper = await (await page.request.get(f"/api/attempts/{attempt}/paper")).json()
    saves = [
        {"item": i["item"], "seq": n + 1,
         "response": WRONG[i["kind"]] if i["kind"] == "single" else RIGHT[i["kind"]]}
        for n, i in enumerate(paper["items"])
    ]  # fmt: skip
    saved = await page.request.post(f"/api/attempts/{attempt}/answers", data=saves)
    assert saved.ok, await saved.text()
    await page.reload()
    await page.locator("#submit-button").click()
    await page.locator("#confirm-dialog").get_by_role("button", name="确认交卷").click()
    await page.wait_for_url(re.compile(rf"/learner/attempts/{attempt}/result$"))
    return attempt


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["1280", "390"])
async def test_the_result_names_the_exam_and_reviews_each_question_readably(
    page: Any, enrolled: Any, review_exam: str, viewport: dict[str, int], shot: Any
) -> None:
    learner = enrolled()
    await sign_in(page, learner.login, learner.password)
    await sit_and_pass(page, review_exam)
    width = viewport["width"]

    await expect(page.locator("#result-exam")).to_have_text(TITLE)
    await expect(page.locator("main")).not_to_contain_text(review_exam)
    await expect(page.locator("#outcome")).to_have_text("合格")
    await expect(page.locator("#score")).to_have_text("50 / 60 分")
    await expect(page.locator("#pass-mark")).to_have_text("36 分（满分的 60%）")
    await expect(page.locator("#attempts-left")).to_have_text("1 次（共 2 次）")
    await expect(page.locator("#next-step")).to_have_attribute("data-next", "passed")

    items = page.locator(".review-item")
    await expect(items).to_have_count(6)
    review = await page.locator(".review").inner_text()
    assert '["' not in review and "{" not in review and "null" not in review, review
    assert MARK in review  # the explanations, after the close
    single = page.locator(".review-item[data-mark=wrong]")
    await expect(single).to_have_count(1)
    await expect(single.locator(".stem")).to_contain_text("单选题")
    await expect(single.locator(".review-option--mine")).to_contain_text("乙")
    await expect(single.locator(".review-option--key")).to_contain_text("甲")
    # the letters as the paper showed the options (shuffled): "乙" chosen, "甲" the key
    mine = (await single.locator(".review-option--mine > span").first.inner_text())[0]
    key = (await single.locator(".review-option--key > span").first.inner_text())[0]
    await expect(single.locator("[data-role=response]")).to_have_text(mine)
    await expect(single.locator("[data-role=key]")).to_have_text(key)
    await expect(single.locator(".review-points")).to_have_text("得分：0 / 10")
    await expect(page.locator(".review-item[data-mark=right]")).to_have_count(5)
    tf = page.locator(".review-item").filter(has_text="判断题")
    await expect(tf.locator("[data-role=key]")).to_have_text("正确")
    matching = page.locator(".review-item").filter(has_text="匹配题")
    await expect(matching.locator("tbody tr")).to_have_count(2)
    numerical = page.locator(".review-item").filter(has_text="数值题")
    await expect(numerical.locator("[data-role=key]")).to_contain_text("4242.4242")
    await shot(page, f"result-review-{width}-zh")

    await page.goto(page.url + "?lang=en")
    await expect(page.locator("#outcome")).to_have_text("Pass")
    await expect(page.locator("#score")).to_have_text("50 / 60")
    await expect(page.locator("#pass-mark")).to_have_text("36 (60% of the maximum)")
    await expect(page.locator("#attempts-left")).to_have_text("1 of 2")
    await expect(page.locator("#next-step")).to_have_text(
        "You have passed this exam; you need not sit it again."
    )
    await expect(single.locator(".review-points")).to_have_text("Points: 0 / 10")
    await expect(tf.locator("[data-role=key]")).to_have_text("True")
    ours = await page.evaluate(
        """() => { const main = document.querySelector('main').cloneNode(true);
            const authored = ['#result-exam', '.summary dd:first-of-type', '.stem',
              '.review-option > span:first-child', '.review-answers dd', '.review-matching td',
              '.review-matching th[scope=row]', '.review-explanation p'];
            main.querySelectorAll(authored.join(', ')).forEach((n) => n.remove());
            return main.innerText; }"""
    )
    for chinese in ("：", "（", "）", "，", "题", "正确", "分"):
        assert chinese not in ours, (chinese, ours)
    await shot(page, f"result-review-{width}-en")
