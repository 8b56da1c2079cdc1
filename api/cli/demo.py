"""Demo data for a first look: accounts of every role, a published demo bank and a
published demo exam drawing from it, the demo plans, the demo learner's study, and a
calibration of the demo bank fitted to a simulated cohort.

The demo learner's record is consistent (decision 0033): their credited study of the
free plan is stored as for any learner (the required courses and one elective complete:
3 of 3 credit hours), and it is that study, not a flag, that lets them sit the demo
exam; the second elective is left to try, and the demo plan's own anti-idle policy
brings a check within the first minute of a 2-minute chapter.

``examengine demo load`` (run by ``make run``) is idempotent: accounts that exist are
left alone, and a bank whose items (or an exam whose spec) are unchanged gets no new
version. The demo passwords
are printed and are for a machine nobody else reaches; the demo accounts skip the forced
password change so a first look needs no extra step.

The demo bank's calibration (decision 0039) is fitted to ``DEMO_COHORT`` simulated
learners (``sim-0001`` …, a fixed seed), each answering a paper of the demo exam by the
2PL model around the items' authored difficulty: no response rows are stored (item
analysis shows real responses only), and the calibration's notes say it is simulated.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click
import msgspec
import numpy as np
from msgspec import Struct
from sqlmodel import Session, col, select

from api.cli.support import unit_of_work
from api.services import attempts, banks, exams, study
from api.services import calibration as calibrations
from api.services.accounts import employ_new
from api.services.passwords import hash_password
from api.settings import Settings
from api.store.tables import Chapter as ChapterRow
from api.store.tables import PlanEnrollment, User
from examengine import credit
from examengine.assembly import assemble, compile_exam
from examengine.challenges import ChallengePolicy
from examengine.commerce import PriceBasis

DEMO_DIR = Path(__file__).parent / "demo_data"
DEMO_BANK = "公需科目-演示题库"
DEMO_EXAM = "公需科目-演示考试"
DEMO_LEARNER = "11010519491231002X"
DEMO_PLAN = "2026-公需科目-演示计划"
#: A priced plan (2.5 yuan a credit hour, source 004), bought rather than enrolled in.
DEMO_PRICED_PLAN = "2026-专业科目-演示计划"
DEMO_EMPLOYER = "演示单位"
#: The demo plan's anti-idle policy: a check 20–50 s after the last (the service's
#: default, 5–15 minutes, never comes inside a 2-minute demo chapter), 60 s to answer,
#: a miss voids and pauses as in production.
DEMO_POLICY = ChallengePolicy(min_interval_ms=20_000, max_interval_ms=50_000, window_ms=60_000)
#: The courses the demo learner has studied (2 h required + 1 h elective: the plan is
#: met); the other elective, 信息安全, is left to try.
DEMO_STUDIED = ("demo-law", "demo-ethics", "demo-digital")
#: The simulated cohort the demo bank's calibration is fitted to: learners, and the
#: seed of their papers, abilities and answers (the same calibration on every machine).
DEMO_COHORT = 500
DEMO_COHORT_SEED = 20261208


class DemoAccount(Struct, frozen=True, kw_only=True):
    login: str
    name: str
    roles: tuple[str, ...]
    password: str
    employer: str | None = None


ACCOUNTS = (
    DemoAccount(
        login="13800000001", name="演示出题人", roles=("author",), password="author-demo-1"
    ),
    DemoAccount(
        login="13800000002", name="演示监考员", roles=("proctor",), password="proctor-demo-1"
    ),
    DemoAccount(
        login="13800000003", name="演示运维", roles=("operator",), password="operator-demo-1"
    ),
    DemoAccount(
        login="11010519491231002X",
        name="张三",
        roles=("learner",),
        password="learner-demo-1",
        employer=DEMO_EMPLOYER,
    ),
    DemoAccount(
        login="13800000005",
        name="演示单位管理员",
        roles=("employer_admin",),
        password="employer-demo-1",
        employer=DEMO_EMPLOYER,
    ),
)


def load_demo(session: Session, *, now: datetime) -> list[str]:
    """Create what is missing; returns a line per thing done."""
    done = []
    made: list[tuple[User, str | None]] = []
    logins = [account.login for account in ACCOUNTS]
    existing = set(session.exec(select(User.login).where(col(User.login).in_(logins))))
    for account in ACCOUNTS:
        if account.login not in existing:
            user = User(
                login=account.login,
                display_name=account.name,
                password_hash=hash_password(account.password),
                roles=list(account.roles),
                must_change_password=False,
                created_at=now,
            )
            session.add(user)
            made.append((user, account.employer))
            done.append(f"account {account.login} ({', '.join(account.roles)})")
    # Their employer, registered and with its history, as for any account made.
    employ_new(session, made, now_ms=int(now.timestamp() * 1000), actor_id=None)
    source = DEMO_DIR / "bank.yaml"
    outcome = banks.import_file(
        session, data=source.read_bytes(), source=source.name, bank=DEMO_BANK, now=now
    )
    if not outcome.unchanged:
        banks.publish(session, bank=DEMO_BANK, version=outcome.version.version, now=now)
        done.append(
            f"bank {DEMO_BANK} v{outcome.version.version} ({outcome.version.item_count} items)"
        )
    done += _load_exam(session, now=now)
    done += _load_plan(session, now=now)
    done += _seed_study(session, now=now)
    done += _seed_calibration(session, now=now)
    return done


def _seed_calibration(session: Session, *, now: datetime) -> list[str]:
    """The demo bank's first calibration, fitted to a simulated cohort (once: a bank
    with a calibration is left alone)."""
    if calibrations.latest(session, DEMO_BANK) is not None:
        return []
    prepared = calibrations.prepare(session, bank=DEMO_BANK)
    learners, scores = simulated_cohort(session, prepared.keys, prepared.authored)
    simulated = msgspec.structs.replace(prepared, learners=learners, scores=scores)
    record = calibrations.store(
        session, simulated, calibrations.fit(simulated), actor=None, now=now
    )
    provisional = sum(1 for item in record.items if item.provisional)
    return [
        f"bank {DEMO_BANK} calibration {record.number} ({record.model}): fitted to "
        f"{len(learners)} simulated learners, {provisional} of {len(record.items)} items "
        "provisional"
    ]


def simulated_cohort(
    session: Session, keys: tuple[str, ...], authored: tuple[float, ...]
) -> tuple[tuple[str, ...], np.ndarray]:
    """``DEMO_COHORT`` simulated learners (``sim-0001`` …) and their learners × items
    matrix: each sits a paper of the demo exam and answers each item right with the 2PL
    probability of items near their authored difficulty (a ≈ 1.1, b = the authored
    logit ± 0.4) at θ ~ N(0.3, 1); NaN where their paper did not hold the item."""
    rng = np.random.default_rng(DEMO_COHORT_SEED)
    source = DEMO_DIR / "exam.yaml"
    spec = exams.decode_spec(source.read_bytes(), source=source.name)
    items = banks.load_items(session, bank=DEMO_BANK, version=spec.bank_version)
    compiled = compile_exam(spec, items)
    papers = assemble(compiled, rng.integers(1, 2**63, DEMO_COHORT, dtype=np.uint64))
    column = {key: j for j, key in enumerate(keys)}
    a = np.exp(rng.normal(0.1, 0.25, len(keys)))
    b = np.asarray(authored) + rng.normal(0.0, 0.4, len(keys))
    theta = rng.normal(0.3, 1.0, DEMO_COHORT)
    scores = np.full((DEMO_COHORT, len(keys)), np.nan)
    for n, row in enumerate(papers.item):
        held = [column[k] for k in (compiled.keys[i] for i in row) if k in column]
        p = 1.0 / (1.0 + np.exp(-a[held] * (theta[n] - b[held])))
        scores[n, held] = (rng.random(len(held)) < p).astype(np.float64)
    learners = tuple(f"{calibrations.SIMULATED_PREFIX}{n:04d}" for n in range(1, DEMO_COHORT + 1))
    return learners, scores


def demo_plan() -> credit.Plan:
    """Two required and two elective short courses (two 2-minute chapters each, 1 h of
    credit per course): 2 h required + 1 h elective, questions from the demo bank, a
    check within the first minute (``DEMO_POLICY``)."""

    def course(key: str, title: str) -> credit.Course:
        chapters = tuple(
            credit.Chapter(
                key=f"{key}-{n}", title=f"第{n}章", duration_ms=120_000, credit_hours=0.5
            )
            for n in (1, 2)
        )
        return credit.Course(key=key, title=title, chapters=chapters, bank=DEMO_BANK)

    courses = [("demo-law", "法治建设", True), ("demo-ethics", "职业道德", True),
               ("demo-digital", "数字经济", False), ("demo-safety", "信息安全", False)]  # fmt: skip
    return credit.Plan(
        key=DEMO_PLAN, title="2026 年公需科目（演示）", year=2026, category="public",
        required_hours=2, elective_hours=1, exam=DEMO_EXAM, challenge=DEMO_POLICY,
        courses=tuple(credit.PlanCourse(course=course(k, t), required=r) for k, t, r in courses),
    )  # fmt: skip


def demo_priced_plan() -> credit.Plan:
    """Two of the demo's courses as a professional plan priced per credit hour (2 h at
    2.5 yuan: ¥5.00 a person): what the buying pages show."""
    courses = {c.course.key: c.course for c in demo_plan().courses}
    return credit.Plan(
        key=DEMO_PRICED_PLAN, title="2026 年专业科目（演示）", year=2026, category="professional",
        required_hours=2, elective_hours=0, price_fen=250, price_basis=PriceBasis.HOUR,
        challenge=DEMO_POLICY,
        courses=tuple(credit.PlanCourse(course=courses[k], required=True)
                      for k in ("demo-digital", "demo-safety")),
    )  # fmt: skip


def _load_plan(session: Session, *, now: datetime) -> list[str]:
    """The demo plans, and the demo learner enrolled in the free one (the exam stays
    open to them)."""
    ms = int(now.timestamp() * 1000)
    study.save_plan(session, demo_plan(), now=ms)
    study.save_plan(session, demo_priced_plan(), now=ms)
    learner = session.exec(select(User).where(User.login == DEMO_LEARNER)).first()
    if learner is None or learner.id is None:
        return []
    if (
        session.exec(select(PlanEnrollment).where(PlanEnrollment.learner_id == learner.id)).first()
        is not None
    ):
        return []
    study.enroll(session, learner_id=learner.id, plan=DEMO_PLAN, now=ms)
    return [f"learner {DEMO_LEARNER} studies {DEMO_PLAN} (2 required + 2 elective courses)"]


def _seed_study(session: Session, *, now: datetime) -> list[str]:
    """The demo learner's credited study of the free plan: every chapter of
    ``DEMO_STUDIED`` complete in the first cycle, stored as the ticker stores credit —
    so the plan is met and the exam's study requirement opens from that record (as it
    would for any learner), never from a bare flag. Done once: chapters already
    complete are left alone."""
    learner = session.exec(select(User).where(User.login == DEMO_LEARNER)).first()
    if learner is None or learner.id is None:
        return []
    ms = int(now.timestamp() * 1000)
    chapters = [
        ch
        for entry in demo_plan().courses
        if entry.course.key in DEMO_STUDIED
        for ch in entry.course.chapters
        if study.stored_credit(session, learner_id=learner.id, chapter=ch.key) < ch.duration_ms
    ]
    if not chapters:
        return []
    rows = session.exec(
        select(ChapterRow.key, ChapterRow.id).where(
            col(ChapterRow.key).in_([ch.key for ch in chapters])
        )
    ).all()
    ids = {key: chapter_id for key, chapter_id in rows if chapter_id is not None}
    grants = tuple(
        study.Grant(
            learner=learner.id,
            chapter_id=ids[ch.key],
            cycle=1,
            credited_ms=ch.duration_ms,
            position_ms=ch.duration_ms,
            completed_ms=ms,
        )
        for ch in chapters
    )
    study.persist(session, study.Batch(now=ms, grants=grants))
    return [
        f"learner {DEMO_LEARNER} has studied {', '.join(DEMO_STUDIED)} "
        f"({len(chapters)} chapters credited: the plan's 3 h are met, the exam is open)"
    ]


def _load_exam(session: Session, *, now: datetime) -> list[str]:
    source = DEMO_DIR / "exam.yaml"
    spec = exams.decode_spec(source.read_bytes(), source=source.name)
    saved = exams.save_spec(session, spec, now=now)
    if saved.unchanged and saved.version.state == "published":
        return []
    info = exams.publish(session, exam=spec.key, version=saved.version.version, now=now)
    return [f"exam {info.exam} v{info.version} ({info.length} items per paper)"]


@click.group("demo")
def demo() -> None:
    """Demo data: accounts with published passwords, so never in production."""
    if Settings.from_env(os.environ).environment == "production":
        raise click.ClickException(
            "demo data (accounts whose passwords are published) is refused in production "
            "/ 生产环境不允许加载演示数据（其账号密码是公开的）"
        )


@demo.command("load")
def load() -> None:
    """Load demo accounts, the demo bank and the demo exam (safe to run again)."""
    with unit_of_work() as session:
        done = load_demo(session, now=datetime.now(UTC))
    for line in done or ["demo data already loaded"]:
        click.echo(line)
    click.echo("demo sign-ins (login / password):")
    for account in ACCOUNTS:
        click.echo(f"  {', '.join(account.roles):14} {account.login} / {account.password}")


def add_load_learners(
    session: Session,
    *,
    count: int,
    prefix: str,
    password: str,
    now: datetime,
    exam: str = DEMO_EXAM,
) -> int:
    """Learners ``<prefix>00001`` … for a load test: one password (hashed once), no forced
    change, enrolled in ``exam`` with the study requirement met. Accounts that exist are
    kept; returns how many were created."""
    logins = [f"{prefix}{n:05d}" for n in range(1, count + 1)]
    existing = set(session.exec(select(User.login).where(col(User.login).startswith(prefix))))
    hashed = hash_password(password)
    new = [login for login in logins if login not in existing]
    for login in new:
        session.add(
            User(
                login=login,
                display_name=f"压测学员 {login.removeprefix(prefix)}",
                password_hash=hashed,
                roles=["learner"],
                must_change_password=False,
                created_at=now,
            )
        )
    session.flush()
    attempts.enroll_learners(
        session, exam=exam, logins=logins, study_met=True, now=int(now.timestamp() * 1000)
    )
    return len(new)


@demo.command("learners")
@click.argument("count", type=click.IntRange(1, 1_000_000))
@click.option("--prefix", default="load-", show_default=True, help="Login prefix.")
@click.option("--password", default="load-test-1", show_default=True, help="Their password.")
@click.option("--exam", default=DEMO_EXAM, show_default=True, help="The exam they may sit.")
def learners(count: int, prefix: str, password: str, exam: str) -> None:
    """Learners for a load test, enrolled in an exam (loadtests/README.md)."""
    with unit_of_work() as session:
        created = add_load_learners(
            session, count=count, prefix=prefix, password=password, now=datetime.now(UTC),
            exam=exam,
        )  # fmt: skip
    click.echo(
        f"{created} learners created, {count - created} kept ({prefix}00001 … "
        f"{prefix}{count:05d}, password {password!r}), enrolled in {exam}"
    )
