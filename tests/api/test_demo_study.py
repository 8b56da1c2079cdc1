"""The demo learner's record is consistent (decision 0033): the demo stores their study
as credit (required courses and one elective complete, 3 of 3 hours), and that study —
not a flag — opens the demo exam; the second elective is left to try, with the demo
plan's own anti-idle policy bringing a check inside the first minute. My exams and my
plans say the same thing, in Chinese and in English."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.cli.demo import DEMO_EXAM, DEMO_LEARNER, DEMO_PLAN, DEMO_POLICY, demo_plan, load_demo
from api.services import attempts, study
from api.settings import Settings
from api.store.db import standalone_transaction
from api.store.tables import Enrollment, User
from tests.api.test_pages_author import LEARNER, page, sign_in

Client = AsyncTestClient[Litestar]


async def test_the_demo_learner_has_studied_what_the_exam_page_says(
    app_client: Client, app_settings: Settings
) -> None:
    with standalone_transaction(app_settings.database) as db:
        done = load_demo(db, now=datetime.now(UTC))
    assert any("6 chapters credited" in line for line in done)
    with standalone_transaction(app_settings.database) as db:
        again = load_demo(db, now=datetime.now(UTC))  # idempotent: nothing granted twice
        assert not any("credited" in line for line in again)
        learner = db.exec(select(User).where(User.login == DEMO_LEARNER)).one()
        assert learner.id is not None
        now = int(datetime.now(UTC).timestamp() * 1000)
        entry = study.my_plans(db, learner_id=learner.id, now=now).plans[0]
        progress = entry.progress
        assert progress.plan == DEMO_PLAN and progress.met and progress.percent == 100.0
        left = {c.course: c.complete for c in progress.courses}
        assert left == {"demo-law": True, "demo-ethics": True, "demo-digital": True,
                        "demo-safety": False}  # fmt: skip
        assert not entry.electives_locked
        enrollment = db.exec(
            select(Enrollment).where(
                Enrollment.learner_id == learner.id, Enrollment.exam_key == DEMO_EXAM
            )
        ).one()
        assert enrollment.study_met  # set by refresh_study_met from the credit
        exam = attempts.my_exams(db, learner_id=learner.id, now=now).exams[0]
        assert exam.may_start
        # The demo plan's own policy: a check within the first minute of a 2-minute chapter.
        stored = study.load_plan(db, DEMO_PLAN)
        assert stored.challenge == DEMO_POLICY
        assert DEMO_POLICY.max_interval_ms <= 60_000
        chapter = demo_plan().courses[0].course.chapters[0]
        assert DEMO_POLICY.max_interval_ms < chapter.duration_ms

    await sign_in(app_client, LEARNER)
    exams = await page(app_client, "/learner/exams")
    assert (
        "学习要求：已完成 3 / 3 学时 · <span data-content>2026 年公需科目（演示）</span>" in exams
    )
    assert "学习已完成，可以开始第 1 次考试（共 2 次，剩余 2 次）" in exams
    english = await page(app_client, "/learner/exams?lang=en")
    assert "Study requirement: 3 of 3 credit hours done" in english
    assert "Study complete: you may start attempt 1 of 2 (2 left)" in english
    plans = await page(app_client, "/learner/plans?lang=zh")
    assert "已完成学习要求" in plans and 'data-percent="100.0"' in plans
    assert plans.count('data-state="complete"') == 6
    assert plans.count('data-state="not_started"') == 2
