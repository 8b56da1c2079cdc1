"""Study persistence on each database: live credit is written in batches by the ticker,
and a crash (the live state dropped without its final flush) costs a learner at most the
flush interval of progress and no granted credit — never a completed chapter, and the
database never holds more credit than was verified."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import numpy as np
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from api.services import study
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Chapter, ChapterProgress, Enrollment, StudyEvent, User
from api.workers.study_ticker import StudyTicker
from examengine import credit
from examengine.challenges import ChallengeKind, ChallengePolicy, InProcessScheduler, OnMiss
from examengine.clock import ManualClock

T0 = 1_000_000
FLUSH_MS = 10_000
LONG = credit.Chapter(key="long", title="长", duration_ms=3_600_000, credit_hours=1)
SHORT = credit.Chapter(key="short", title="短", duration_ms=30_000, credit_hours=1)
PLAN = credit.Plan(
    key="plan", title="计划", year=2026, category="public", required_hours=2,
    elective_hours=0, exam="exam",
    courses=(
        credit.PlanCourse(required=True,
                          course=credit.Course(key="c", title="c", chapters=(LONG, SHORT))),
    ),
)  # fmt: skip


@dataclass
class World:
    sessions: sessionmaker[Session]
    learner: int


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    migrate(db_url)
    engine = make_engine(DatabaseSettings(url=db_url))
    sessions = session_factory(engine)
    with transaction(sessions) as db:
        user = User(login="11010519491231002X", display_name="张三", password_hash="x",
                    roles=["learner"])  # fmt: skip
        db.add(user)
        db.flush()
        assert user.id is not None
        study.save_plan(db, PLAN, now=T0)
        study.enroll(db, learner_id=user.id, plan=PLAN.key, now=T0)
        learner = user.id
    yield World(sessions, learner)
    engine.dispose()


REGULAR = ChallengePolicy(min_interval_ms=60_000, max_interval_ms=90_000, window_ms=10_000)


def live_study(clock: ManualClock) -> study.LiveStudy:
    rng = np.random.default_rng(5)

    def schedulers(policy: ChallengePolicy) -> tuple[InProcessScheduler, InProcessScheduler]:
        return (
            InProcessScheduler(100, policy, rng=rng, epoch_ms=clock.now_ms()),
            InProcessScheduler(100, study.closing_policy(policy), rng=rng, epoch_ms=clock.now_ms()),
        )

    return study.LiveStudy(schedulers, default=REGULAR, secret=b"contract-secret")


def studied(world: World, live: study.LiveStudy, clock: ManualClock, chapter: str,
            seconds: int) -> tuple[StudyTicker, str]:  # fmt: skip
    """Play ``chapter`` for ``seconds``: a heartbeat every 15 s, a tick every second,
    every challenge answered two seconds after it shows."""
    ticker = StudyTicker(live, world.sessions, clock, tick_ms=1000, flush_ms=FLUSH_MS)
    with transaction(world.sessions) as db:
        info = study.prepare_start(db, learner_id=world.learner, chapter=chapter)
    token = live.begin(info, now=clock.now_ms()).token
    position = 0
    live.heartbeat(token, login="", position_ms=0, playing=True, now=clock.now_ms())
    for second in range(1, seconds + 1):
        clock.advance(1000)
        position += 1000
        if second % 15 == 0:
            live.heartbeat(token, login="", position_ms=position, playing=True,
                           now=clock.now_ms())  # fmt: skip
        challenge = live.status(token, login="", now=clock.now_ms()).challenge
        if challenge is not None and clock.now_ms() - challenge.issued_ms >= 2000:
            live.ack(token, login="", seq=challenge.seq, answer="continue",
                     now=clock.now_ms())  # fmt: skip
        ticker.run_once()
    return ticker, token


def stored(world: World, chapter: str) -> ChapterProgress | None:
    with transaction(world.sessions) as db:
        return db.exec(
            select(ChapterProgress).join_from(ChapterProgress, Chapter)
            .where(Chapter.key == chapter)
        ).first()  # fmt: skip


def verified_wall_ms(world: World) -> int:
    """The wall-clock length of every verified segment, from the integrity events."""
    with transaction(world.sessions) as db:
        rows = db.exec(select(StudyEvent).where(StudyEvent.kind == "segment_verified")).all()
        decoded = [msgspec.json.decode(r.data, type=credit.SegmentVerified) for r in rows]
    return sum(e.at_ms - e.from_ms for e in decoded)


def test_a_crash_costs_at_most_the_flush_interval_and_no_granted_credit(world: World) -> None:
    clock = ManualClock(T0)
    live = live_study(clock)
    studied(world, live, clock, "long", 600)
    session = live.session_of(world.learner)
    assert session is not None and session.credited_ms > 0
    del live  # the crash: the live state is gone, no final flush
    row = stored(world, "long")
    assert row is not None
    assert row.credited_ms == session.credited_ms  # granted credit is stored in its tick
    # Progress (the resume position) is what the server knew one flush interval ago at
    # worst: it learns the position every heartbeat.
    assert clock.now_ms() - row.updated_ms <= FLUSH_MS
    assert session.position_ms - row.position_ms <= FLUSH_MS + study.HEARTBEAT_S * 1000
    assert session.state is credit.SessionState.ACTIVE
    assert row.credited_ms <= verified_wall_ms(world)  # never more than was verified

    # After the restart the learner goes on from the stored credit.
    clock.advance(60_000)
    again = live_study(clock)
    with transaction(world.sessions) as db:
        info = study.prepare_start(db, learner_id=world.learner, chapter="long")
    assert again.begin(info, now=clock.now_ms()).credited_s == row.credited_ms // 1000


def test_a_completed_chapter_survives_a_crash_right_after_and_meets_the_study(
    world: World,
) -> None:
    clock = ManualClock(T0)
    live = live_study(clock)
    ticker, _ = studied(world, live, clock, "short", 60)
    session = live.session_of(world.learner)
    assert session is not None and session.state is credit.SessionState.COMPLETE
    del live, ticker  # crash at once: no flush since the completing tick
    row = stored(world, "short")
    assert row is not None and row.completed_ms is not None
    assert row.credited_ms == SHORT.duration_ms
    with transaction(world.sessions) as db:
        kinds = {e.kind for e in db.exec(select(StudyEvent)).all()}
        enrollment = db.exec(select(Enrollment)).one()
    assert {"challenge_issued", "challenge_passed", "chapter_completed"} <= kinds
    assert enrollment.study_met is False  # the plan also needs the long chapter


def test_credit_only_grows_in_the_database(world: World) -> None:
    with transaction(world.sessions) as db:
        chapter = db.exec(select(Chapter).where(Chapter.key == "long")).one()
        assert chapter.id is not None
        grant = study.Grant(learner=world.learner, chapter_id=chapter.id, cycle=1,
                            credited_ms=50_000, position_ms=60_000, completed_ms=None)  # fmt: skip
        study.persist(db, study.Batch(now=T0, grants=(grant,)))
    with transaction(world.sessions) as db:
        lower = study.Grant(learner=world.learner, chapter_id=chapter.id, cycle=1,
                            credited_ms=20_000, position_ms=70_000, completed_ms=None)  # fmt: skip
        study.persist(db, study.Batch(now=T0 + 1, grants=(lower,)))
    row = stored(world, "long")
    assert row is not None and (row.credited_ms, row.position_ms) == (50_000, 70_000)


GENTLE = ChallengePolicy(
    min_interval_ms=30_000, max_interval_ms=30_000, window_ms=5_000,
    kind=ChallengeKind.PROMPT, on_miss=OnMiss.VOID,
)  # fmt: skip


def test_a_plan_with_its_own_policy_times_and_treats_its_challenges_by_it(world: World) -> None:
    """The plan's policy round-trips through the database and governs its sessions: a
    prompt every 30 s (not the service's 60–90 s), 5 s to answer, and a miss that voids
    the segment but plays on (re-armed) instead of pausing. Another plan's learner, on
    the service's default, is timed beside it by a second pool."""
    with transaction(world.sessions) as db:
        study.save_plan(db, msgspec.structs.replace(PLAN, challenge=GENTLE), now=T0)
        assert study.load_plan(db, PLAN.key).challenge == GENTLE
    clock = ManualClock(T0)
    live = live_study(clock)
    with transaction(world.sessions) as db:
        info = study.prepare_start(db, learner_id=world.learner, chapter="long")
    assert info.policy == GENTLE
    token = live.begin(info, now=T0).token
    beat = {"login": "", "playing": True}
    live.heartbeat(token, position_ms=0, now=T0, **beat)
    clock.advance(15_000)
    live.heartbeat(token, position_ms=15_000, now=clock.now_ms(), **beat)
    clock.advance(14_000)
    assert live.tick(now=clock.now_ms()).issued == 0
    clock.advance(1_000)
    assert live.tick(now=clock.now_ms()).issued == 1
    challenge = live.status(token, login="", now=clock.now_ms()).challenge
    assert challenge is not None and challenge.kind == "prompt"
    assert challenge.expires_ms - challenge.issued_ms == 5_000
    clock.advance(5_001)
    assert live.tick(now=clock.now_ms()).missed == 1
    after_miss = live.status(token, login="", now=clock.now_ms())
    assert (after_miss.state, after_miss.pending_s, after_miss.credited_s) == ("active", 0, 0)
    missed_at = clock.now_ms()
    live.heartbeat(token, position_ms=36_000, now=missed_at, **beat)  # plays on
    clock.advance(15_000)
    live.heartbeat(token, position_ms=51_000, now=clock.now_ms(), **beat)
    assert live.status(token, login="", now=clock.now_ms()).pending_s == 15
    clock.advance(15_000)  # the next challenge 30 s after the miss (re-armed at the miss)
    assert live.tick(now=clock.now_ms()).issued == 1
    # the default policy's pool runs beside it
    other = msgspec.structs.replace(
        info, learner=world.learner + 1000, policy=None, credited_ms=0, position_ms=0
    )
    assert live.begin(other, now=clock.now_ms()).token != token
    assert live.open_sessions == 2
