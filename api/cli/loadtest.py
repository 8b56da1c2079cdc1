"""``examengine loadtest …``: the accounts of a load run, and the run itself.

``prepare`` makes what a load run needs in the configured database, fast (10,000
learners in seconds): the demo bank, the load-test exam (a spec file, its duration set
from ``--exam-minutes``) and a load-test study plan (short chapters, a quick anti-idle
policy), then synthetic accounts — exam takers ``load-00001`` … enrolled in the exam with
the study requirement met, studiers ``study-00001`` … enrolled in the plan, proctors and
authors. Every account has the same password: it is hashed **once** with argon2 and
that one hash is stored on every row (hashing 10,000 passwords would take minutes and
prove nothing), rows are inserted in bulk, and existing accounts are kept.

``run`` runs the load run of loadtests/ (``python -m loadtests.run``) as a subprocess:
the shell never imports loadtests/ or locust, which is a test extra
(docs/decisions/0019-load-suite.md).

Both are refused in production, as the demo data is: the passwords are published.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
import msgspec
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.cli.demo import DEMO_EXAM, load_demo
from api.cli.support import fail, now, settings, unit_of_work
from api.services import exams, study
from api.services.passwords import hash_password
from api.store.tables import Enrollment, PlanEnrollment, User
from api.store.tables import Plan as PlanRow
from examengine import credit
from examengine.challenges import ChallengeKind, ChallengePolicy, OnMiss

LOAD_PLAN = "压测-学习计划"
LOAD_BANK = "公需科目-演示题库"
#: Exam takers per proctor (issue 13: proctors watching 300 learners each).
LEARNERS_PER_PROCTOR = 300
#: Rows per INSERT batch.
CHUNK = 2000


@click.group("loadtest")
def loadtest() -> None:
    """Load runs (loadtests/README.md): accounts with a published password, so never in
    production."""
    if settings().environment == "production":
        raise click.ClickException(
            "load-test accounts (whose password is published) are refused in production "
            "/ 生产环境不允许创建压测账号（其密码是公开的）"
        )


def load_plan(
    *, exam: str | None, chapter_s: int, every_s: tuple[int, int], window_s: int
) -> credit.Plan:
    """The load-test plan: two required courses of two ``chapter_s`` chapters, questions
    from the demo bank, a challenge every ``every_s`` seconds, ``window_s`` to answer,
    a miss voids and pauses (the source rule)."""

    def course(key: str, title: str) -> credit.Course:
        chapters = tuple(
            credit.Chapter(
                key=f"{key}-{n}", title=f"第{n}章", duration_ms=chapter_s * 1000, credit_hours=0.5
            )
            for n in (1, 2)
        )
        return credit.Course(key=key, title=title, chapters=chapters, bank=LOAD_BANK)

    policy = ChallengePolicy(
        min_interval_ms=every_s[0] * 1000, max_interval_ms=every_s[1] * 1000,
        window_ms=window_s * 1000, kind=ChallengeKind.QUESTION, on_miss=OnMiss.VOID_AND_PAUSE,
    )  # fmt: skip
    return credit.Plan(
        key=LOAD_PLAN, title="压测学习计划", year=2026, category="public",
        required_hours=2, elective_hours=0, exam=exam, challenge=policy,
        courses=(
            credit.PlanCourse(course=course("load-law", "压测课程一"), required=True),
            credit.PlanCourse(course=course("load-ethics", "压测课程二"), required=True),
        ),
    )  # fmt: skip


def _publish_exam(session: Session, spec_file: Path, minutes: float | None, at: datetime) -> str:
    """Publish the spec in ``spec_file`` (its duration from ``minutes`` when given)."""
    try:
        spec = exams.decode_spec(spec_file.read_bytes(), source=str(spec_file))
    except OSError as exc:
        fail(f"{spec_file}: {exc.strerror}")
    if minutes is not None:
        spec = msgspec.structs.replace(spec, duration_s=max(60, round(minutes * 60)))
    saved = exams.save_spec(session, spec, now=at)
    if not (saved.unchanged and saved.version.state == "published"):
        exams.publish(session, exam=spec.key, version=saved.version.version, now=at)
    return spec.key


def add_accounts(
    session: Session, logins: Sequence[str], *, role: str, name: str, password_hash: str,
    at: datetime,
) -> dict[str, int]:  # fmt: skip
    """Create the accounts of ``logins`` that are missing (one INSERT per chunk, every
    row with the same ``password_hash``); returns login → id for all of them."""
    ids = _ids(session, logins)
    rows = [
        {"login": login, "display_name": f"{name} {login.rsplit('-', 1)[-1]}",
         "password_hash": password_hash, "roles": [role], "must_change_password": False,
         "created_at": at, "session_generation": 0}
        for login in logins if login not in ids
    ]  # fmt: skip
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(User), rows[start : start + CHUNK])
    if rows:
        ids = _ids(session, logins)
    return ids


def _ids(session: Session, logins: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(logins), CHUNK):
        chunk = logins[start : start + CHUNK]
        rows = session.execute(
            sa.select(col(User.login), col(User.id)).where(col(User.login).in_(chunk))
        )
        found.update({login: ident for login, ident in rows})
    return found


def enroll_exam(session: Session, ids: Sequence[int], *, exam: str, at: datetime) -> int:
    """Enroll ``ids`` in ``exam`` with the study requirement met (bulk); returns how many
    were new (an existing enrollment is marked met)."""
    have = set(session.exec(select(Enrollment.learner_id).where(Enrollment.exam_key == exam)).all())
    new = [i for i in ids if i not in have]
    rows = [{"learner_id": i, "exam_key": exam, "study_cycle": 1, "study_met": True,
             "created_at": at} for i in new]  # fmt: skip
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(Enrollment), rows[start : start + CHUNK])
    session.execute(
        sa.update(Enrollment)
        .where(col(Enrollment.exam_key) == exam, col(Enrollment.study_met).is_(False))
        .values(study_met=True)
    )
    return len(new)


def enroll_plan(session: Session, ids: Sequence[int], *, plan: str, at: datetime) -> int:
    """Enroll ``ids`` in ``plan`` (bulk; the plan unlocks no exam for them)."""
    plan_id = session.exec(select(PlanRow.id).where(PlanRow.key == plan)).one()
    have = set(
        session.exec(
            select(PlanEnrollment.learner_id).where(PlanEnrollment.plan_id == plan_id)
        ).all()
    )
    rows = [{"learner_id": i, "plan_id": plan_id, "cycle": 1, "created_at": at}
            for i in ids if i not in have]  # fmt: skip
    for start in range(0, len(rows), CHUNK):
        session.execute(sa.insert(PlanEnrollment), rows[start : start + CHUNK])
    return len(rows)


def preassemble_papers(session: Session, *, exam: str, ids: Sequence[int], at: datetime) -> str:
    """Build and store the exam takers' papers before the run (``exams.preassemble``),
    so that ``start`` stores no paper under the peak."""
    outcome = exams.preassemble(
        session, exam=exam, learners=[str(i) for i in ids], attempt=1,
        secret=settings().security.paper_secret.encode(), now=at,
    )  # fmt: skip
    return f"papers: {outcome.built} built, {outcome.existing} already stored"


def numbered(prefix: str, count: int, width: int = 5) -> list[str]:
    """``prefix00001`` … ``prefix<count>``."""
    return [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)]


@loadtest.command("prepare")
@click.option("--learners", type=click.IntRange(0, 1_000_000), required=True,
              help="Exam takers: PREFIX00001 …, enrolled in the exam, study met.")  # fmt: skip
@click.option("--studiers", type=click.IntRange(0, 1_000_000), default=0, show_default=True,
              help="Learners study-00001 … enrolled in the load-test plan.")  # fmt: skip
@click.option(
    "--proctors",
    type=click.IntRange(0, 10_000),
    default=None,
    help=f"Proctors proctor-001 … (default: one per {LEARNERS_PER_PROCTOR} learners).",
)
@click.option("--authors", type=click.IntRange(0, 10_000), default=1, show_default=True,
              help="Authors author-001 ….")  # fmt: skip
@click.option("--prefix", default="load-", show_default=True, help="Exam takers' login prefix.")
@click.option("--password", default="load-test-1", show_default=True,
              help="Every account's password (hashed once).")  # fmt: skip
@click.option("--exam-spec", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Publish this exam spec and enroll in it (default: the demo "
              "exam).")  # fmt: skip
@click.option(
    "--exam-minutes",
    type=click.FloatRange(1, 24 * 60),
    default=None,
    help="The published spec's duration (a spec setting: short runs see the deadline).",
)
@click.option("--chapter-seconds", type=click.IntRange(30, 7200), default=120, show_default=True,
              help="Length of each chapter of the load-test plan.")  # fmt: skip
@click.option("--challenge-every", default="20-40", show_default=True,
              help="Seconds between two anti-idle challenges, MIN-MAX.")  # fmt: skip
@click.option("--challenge-window", type=click.IntRange(1, 3600), default=15, show_default=True,
              help="Seconds to answer a challenge.")  # fmt: skip
@click.option("--preassemble/--no-preassemble", default=False, show_default=True,
              help="Store the exam takers' papers before the run.")  # fmt: skip
def prepare(
    *,
    learners: int, studiers: int, proctors: int | None, authors: int, prefix: str,
    password: str, exam_spec: Path | None, exam_minutes: float | None, chapter_seconds: int,
    challenge_every: str, challenge_window: int, preassemble: bool,
) -> None:  # fmt: skip
    """Accounts, enrollments and the exam of a load run, in bulk (loadtests/README.md)."""
    every = _interval(challenge_every)
    if len(password) < 8:
        fail("--password: at least 8 characters / 密码至少 8 个字符")
    at = now()
    proctors = math.ceil(learners / LEARNERS_PER_PROCTOR) if proctors is None else proctors
    hashed = hash_password(password)  # once: the same hash on every row
    with unit_of_work() as session:
        load_demo(session, now=at)
        exam = (
            _publish_exam(session, exam_spec, exam_minutes, at)
            if exam_spec is not None
            else DEMO_EXAM
        )
        plan = load_plan(exam=None, chapter_s=chapter_seconds, every_s=every,
                         window_s=challenge_window)  # fmt: skip
        study.save_plan(session, plan, now=int(at.timestamp() * 1000))
        done = [f"exam {exam}, plan {plan.key}"]
        takers = add_accounts(session, numbered(prefix, learners), role="learner",
                              name="压测考生", password_hash=hashed, at=at)  # fmt: skip
        new = enroll_exam(session, list(takers.values()), exam=exam, at=at)
        done.append(f"{len(takers)} exam takers ({new} newly enrolled in {exam}, study met)")
        if studiers:
            ids = add_accounts(session, numbered("study-", studiers), role="learner",
                               name="压测学员", password_hash=hashed, at=at)  # fmt: skip
            new = enroll_plan(session, list(ids.values()), plan=plan.key, at=at)
            done.append(f"{len(ids)} studiers ({new} newly enrolled in {plan.key})")
        for role, count, name in (
            ("proctor", proctors, "压测监考"),
            ("author", authors, "压测出题"),
        ):
            if count:
                made = add_accounts(session, numbered(f"{role}-", count, 3), role=role,
                                    name=name, password_hash=hashed, at=at)  # fmt: skip
                done.append(f"{len(made)} {role}s")
        if preassemble:
            # Papers stored before the peak make the start a cheap state change
            # (issue 13, "Holding the peak"): this is where prepare builds them.
            done.append(preassemble_papers(session, exam=exam, ids=list(takers.values()), at=at))
    for line in done:
        click.echo(line)
    click.echo(f"password of every account: {password!r}")


def _interval(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        fail(f"--challenge-every {text!r}: expected MIN-MAX seconds / 应为 最小-最大 秒数")
    if not 1 <= pair[0] <= pair[1]:
        fail(f"--challenge-every {text!r}: need 1 <= MIN <= MAX / 须 1 ≤ 最小 ≤ 最大")
    return pair


@loadtest.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,  # ``--help`` is the load runner's, with every option
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    """A whole load run: ``python -m loadtests.run ARGS`` (``--help`` lists them).

    Needs a source checkout with the load extra (``make install-test``): loadtests/ is
    not part of the installed package."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "loadtests" / "run.py").is_file():
        fail("loadtests/ not found: use a source checkout / 未找到 loadtests/：请用源码目录")
    code = subprocess.call([sys.executable, "-m", "loadtests.run", *args], cwd=root,
                           env=dict(os.environ))  # fmt: skip
    sys.exit(code)
