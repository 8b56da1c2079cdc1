"""Risk flags for proctors and operators (docs/decisions/0030): the rows around
``examengine.risk``, which holds every rule.

- ``attempt_list``: the flagged formal attempts among the most recent ``SCAN_LIMIT``
  matching the filters (exam, employer, started since), each with its flags and their
  evidence; the similarity index compares the scanned attempts in groups of one
  employer and one exam (at most ``RiskPolicy.similarity_group`` each).
- ``attempt_risk``: one attempt — every rule checked (flagged or not), its flags with
  their evidence and the items they name; its similarity to the most recent graded
  formal attempts of the same exam by learners of the same employer (the same bound).
- ``cycle_list``: the flagged study cycles (one learner, one cycle) among the most
  recent ``STUDY_SCAN_LIMIT`` missed challenges and take-overs matching the filters.
- ``export``: both lists as one workbook, one row per flag.

Learners appear by name, masked ID number and employer (``User.employer``, the current
one). Nothing here decides anything: the flags are reasons for a person to look.
Filters that name nothing (an unknown exam or employer, a date that is not one) raise
``FilterError`` naming the field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

import msgspec
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import attempts, banks, markup
from api.services.attempts import AttemptNotFoundError
from api.services.sheets import workbook
from api.store.db import in_chunks
from api.store.tables import (
    AnswerStep,
    Attempt,
    AttemptEvent,
    Bank,
    BankItem,
    BankVersion,
    Chapter,
    Course,
    Employer,
    Exam,
    ExamVersion,
    ItemResponse,
    Paper,
    PlanCourse,
    StudyEvent,
    User,
)
from api.store.tables import Plan as PlanRow
from examengine import risk
from examengine.assembly import Paper as PaperContent
from examengine.blueprint import ExamSpec
from examengine.ids import masked
from examengine.risk import Check, Evidence, Flag, RiskPolicy, Rule
from itembank.model import Item

#: The thresholds in force (``examengine.risk.RiskPolicy``'s documented defaults).
POLICY = RiskPolicy()
#: Formal attempts one list looks at: the most recent matching the filters.
SCAN_LIMIT = 2000
#: Study events (missed challenges, take-overs) one list looks at, the most recent.
STUDY_SCAN_LIMIT = 20_000
#: How far back a list looks when ``since`` is not given.
DEFAULT_SINCE = timedelta(days=30)
#: Evidence rows written out per flag in the workbook (the rest: "… and N more").
EXPORT_EVIDENCE = 50
#: Characters of an item's stem, and of an option, shown beside the evidence.
STEM_CHARS, OPTION_CHARS = 80, 30
#: Times on pages and in exports: China Standard Time.
CST = timezone(timedelta(hours=8), "CST")

#: The rules and the evidence in words, Chinese and English: the pages' catalogue and
#: the workbook both read them from here.
RULE_NAMES: dict[Rule, tuple[str, str]] = {
    "missed_challenges": ("多次未通过防挂机验证", "Missed challenges"),
    "study_takeovers": ("同一章节在别处打开", "Chapter opened elsewhere"),
    "focus_loss": ("离开考试页面", "Left the exam page"),
    "copy_paste": ("复制或粘贴", "Copy or paste"),
    "takeover": ("换设备接管考试", "Taken over by another device"),
    "fast_answers": ("作答快于阅读", "Answered faster than reading"),
    "similar_answers": ("错误答案雷同", "Same wrong answers"),
}
RULE_TESTS: dict[Rule, tuple[str, str]] = {
    "missed_challenges": (
        "一个学习周期内未通过的防挂机验证次数 ≥ {threshold}",
        "anti-idle challenges missed in one study cycle ≥ {threshold}",
    ),
    "study_takeovers": (
        "一个学习周期内正在学习的章节又在别的页面或设备打开的次数 ≥ {threshold}"
        "（换到别的章节不计）",
        "times the chapter being studied was opened again in another tab or device in one "
        "study cycle ≥ {threshold} (moving on to another chapter does not count)",
    ),
    "focus_loss": (
        "一次考试中考试页面失去焦点与退出全屏的次数 ≥ {threshold}",
        "times the exam page lost focus or left full screen in one attempt ≥ {threshold}",
    ),
    "copy_paste": (
        "一次考试中复制与粘贴的次数 ≥ {threshold}",
        "copies and pastes in one attempt ≥ {threshold}",
    ),
    "takeover": (
        "一次考试被其他设备接管的次数 ≥ {threshold}",
        "times another device took the attempt over ≥ {threshold}",
    ),
    "fast_answers": (
        "连续 {threshold} 道及以上的题目，从上一题作答（或试卷显示）到本题首次作答的时间"
        "少于读完该题所需的最短时间（{base} 秒 + 每字 {per_char} 毫秒）",
        "{threshold} or more items in a row first answered sooner after the previous answer "
        "(or the paper shown) than the item can be read ({base} s + {per_char} ms a character)",
    ),
    "similar_answers": (
        "与同一单位另一学员同一考试的错误答案相同的比例 ≥ {share}%，"
        "且两人都答错的题目 ≥ {items} 道",
        "share of identical wrong answers with another learner of the same employer at the "
        "same exam ≥ {share}%, over at least {items} items both answered wrongly",
    ),
}
SIMILARITY_EXPLAINED = (
    "相似度指数：只看两人都被抽到、且都答错（已作答、未得满分）的题目，判断题除外（错误答案只有一种，"
    "相同不说明问题）；指数是其中两人错误答案完全相同的题目所占的比例。答对的题目从不计入——"
    "都掌握了知识的人自然答案相同。独立作答的人错误答案会分散在不同的干扰项上，很少大部分相同；"
    "比例高且题目足够多，才值得人工查看。",
    "The similarity index: over the items both learners were given and both answered "
    "wrongly (answered, not full marks), true/false items left out (there is only one "
    "wrong answer, so agreeing on it says nothing), the share where the two wrong answers "
    "are identical. Right answers never count: people who both know the material agree "
    "on them. People who work alone spread their wrong answers over different "
    "distractors and seldom share most of them; a high share over enough items is a "
    "reason for a person to look.",
)
WHAT_NAMES: dict[str, tuple[str, str]] = {
    "focus_lost": ("页面失去焦点", "Focus lost"),
    "fullscreen_exit": ("退出全屏", "Left full screen"),
    "copy": ("复制", "Copy"),
    "paste": ("粘贴", "Paste"),
    "device_taken_over": ("被其他设备接管", "Taken over by another device"),
    "challenge_missed": ("未通过防挂机验证", "Challenge missed"),
    "session_taken_over": ("章节在别处打开", "Chapter opened elsewhere"),
    "fast_answer": ("首次作答", "First answer"),
    "same_wrong_answer": ("错误答案相同", "Same wrong answer"),
    "different_wrong_answer": ("错误答案不同", "Different wrong answer"),
}
CLOSED_STATES = ("submitted", "expired", "terminated")
#: Attempt events that matter here (integrity reports are ``integrity`` rows).
_MARK_EVENTS = ("integrity", *risk.SHOWN_KINDS)
_STUDY_KINDS = ("challenge_missed", "session_taken_over")


class FilterError(Exception):
    """A filter that names nothing, or is not what its field takes."""

    def __init__(self, field: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.message_zh = message_zh


# ----------------------------------------------------------------------------- wire


class Filters(Struct, frozen=True, kw_only=True):
    """What a list looks at: one exam and one employer, or all; since when (UTC ms)."""

    since_ms: int
    exam: str | None = None
    employer: str | None = None


class Peer(Struct, frozen=True, kw_only=True):
    """An attempt another flag names (the other side of a ``similar_answers`` pair)."""

    attempt: str
    learner: str
    login: str
    employer: str | None


class FlaggedAttempt(Struct, frozen=True, kw_only=True):
    """An attempt with its flags. ``learner`` is the name, ``login`` the masked ID."""

    attempt: str
    exam: str
    exam_title: str
    learner: str
    login: str
    employer: str | None
    state: str
    number: int
    started_ms: int
    finished_ms: int | None
    flags: tuple[Flag, ...]
    peers: tuple[Peer, ...] = ()


class ChapterRef(Struct, frozen=True, kw_only=True):
    key: str
    title: str


class FlaggedCycle(Struct, frozen=True, kw_only=True):
    """One learner's study cycle with its flags; ``chapters`` names those the evidence
    mentions."""

    learner: str
    login: str
    employer: str | None
    cycle: int
    flags: tuple[Flag, ...]
    chapters: tuple[ChapterRef, ...] = ()
    checks: tuple[Check, ...] = ()


class AttemptList(Struct, frozen=True, kw_only=True):
    """The flagged attempts among the ``scanned`` most recent formal attempts matching
    the filters (``truncated``: more matched than ``scan_limit``; narrow the filters).
    ``groups_cut``: employer × exam groups larger than the similarity bound, of which
    only the most recent ``policy.similarity_group`` were compared."""

    server_ms: int
    filters: Filters
    policy: RiskPolicy
    scanned: int
    scan_limit: int
    truncated: bool
    groups_cut: int
    attempts: tuple[FlaggedAttempt, ...]


class CycleList(Struct, frozen=True, kw_only=True):
    """The flagged study cycles among the ``scanned`` most recent missed challenges
    and take-overs matching the filters (``truncated``: more matched)."""

    server_ms: int
    filters: Filters
    policy: RiskPolicy
    scanned: int
    scan_limit: int
    truncated: bool
    cycles: tuple[FlaggedCycle, ...]


class ItemRef(Struct, frozen=True, kw_only=True):
    """An item evidence names: its place on the paper (from 1), kind, stem (cut) and
    the texts of its options by id (so an answer reads as what the learner chose)."""

    key: str
    position: int | None
    kind: str
    stem: str
    options: dict[str, str] = {}


class AttemptRisk(Struct, frozen=True, kw_only=True):
    """One attempt: every rule ``checks`` (flagged or not), its flags (in ``attempt``)
    and the items their evidence names. ``compared``: graded attempts of the same exam
    by learners of the same employer its similarity was measured against (None: not
    compared — a practice attempt, not graded yet, or no employer)."""

    server_ms: int
    policy: RiskPolicy
    attempt: FlaggedAttempt
    checks: tuple[Check, ...]
    items: tuple[ItemRef, ...]
    compared: int | None


# -------------------------------------------------------------------------- filters


def parse_since(raw: str | None, *, now: int, zone: tzinfo = CST) -> int:
    """``since`` as UTC ms: a date (``2026-11-01``, midnight in ``zone``, the display
    zone) or a time with its offset; None or empty: ``DEFAULT_SINCE`` before ``now``. Raises
    ``FilterError`` for anything else, or a time after ``now``."""
    if raw is None or not raw.strip():
        return now - int(DEFAULT_SINCE.total_seconds() * 1000)
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=zone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise FilterError(
            "since",
            f"since: {text!r} is not a date (YYYY-MM-DD) or a time with its offset",
            f"since（起始日期）：{text!r} 不是日期（YYYY-MM-DD）或带时区的时间",
        ) from None
    ms = int(moment.timestamp() * 1000)
    if ms > now:
        raise FilterError(
            "since", "since: the date is in the future", "since（起始日期）：日期晚于现在"
        )
    return ms


def filters(
    session: Session,
    *,
    exam: str | None,
    employer: str | None,
    since: str | None,
    now: int,
    zone: tzinfo = CST,
) -> Filters:
    """The filters checked: an exam and an employer that exist (an employer in the
    registry or carried by an account), ``since`` as ``parse_since`` reads it."""
    exam = (exam or "").strip() or None
    employer = (employer or "").strip() or None
    since_ms = parse_since(since, now=now, zone=zone)
    if exam is not None and session.exec(select(Exam.id).where(Exam.key == exam)).first() is None:
        raise FilterError("exam", f"exam: no exam {exam!r}", f"exam（考试）：没有考试 {exam!r}")
    if employer is not None and not _employer_known(session, employer):
        raise FilterError(
            "employer",
            f"employer: no employer {employer!r}",
            f"employer（单位）：没有单位 {employer!r}",
        )
    return Filters(since_ms=since_ms, exam=exam, employer=employer)


def _employer_known(session: Session, name: str) -> bool:
    if session.exec(select(Employer.id).where(Employer.name == name)).first() is not None:
        return True
    return session.exec(select(User.id).where(User.employer == name).limit(1)).first() is not None


# ------------------------------------------------------------------------- attempts


class _Loaded:
    """What the attempt rules need, read once per unit of work: the rows, their marks
    and first answers, the items' texts, the graded answers."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._items: dict[int, Mapping[str, Item]] = {}
        self._titles: dict[int, str] = {}

    def items(self, exam_version_id: int) -> Mapping[str, Item]:
        if exam_version_id not in self._items:
            version = self.session.get(ExamVersion, exam_version_id)
            assert version is not None, "an attempt's exam version is never deleted"
            self._titles[exam_version_id] = msgspec.json.decode(version.spec, type=ExamSpec).title
            bank_version = self.session.get(BankVersion, version.bank_version_id)
            assert bank_version is not None and bank_version.id is not None
            bank = self.session.get(Bank, bank_version.bank_id)
            assert bank is not None
            number = bank_version.version

            def load() -> Mapping[str, Item]:
                found = banks.load_items(self.session, bank=bank.name, version=number)
                return {item.key: item for item in found}

            key = (bank_version.id, bank_version.content_hash)
            self._items[exam_version_id] = attempts.ITEMS.get(key, load)
        return self._items[exam_version_id]

    def title(self, exam_version_id: int) -> str:
        self.items(exam_version_id)
        return self._titles[exam_version_id]

    def records(self, rows: Sequence[Attempt]) -> dict[str, risk.AttemptRecord]:
        ids = [row.id for row in rows]
        marks = self._marks(ids)
        firsts = self._first_answers(ids)
        out = {}
        for row in rows:
            items = self.items(row.exam_version_id)
            answers = tuple(
                risk.FirstAnswer(
                    item=item,
                    at_ms=at,
                    seq=seq,
                    chars=risk.item_chars(items[item]) if item in items else 0,
                )
                for item, at, seq in firsts.get(row.id, ())
            )
            out[row.id] = risk.AttemptRecord(
                attempt=row.id,
                started_ms=row.started_ms,
                marks=tuple(marks.get(row.id, ())),
                answers=answers,
            )
        return out

    def _marks(self, ids: Sequence[str]) -> dict[str, list[risk.Mark]]:
        out: dict[str, list[risk.Mark]] = defaultdict(list)
        for chunk in in_chunks(ids):
            rows = self.session.execute(
                sa.select(
                    col(AttemptEvent.attempt_id), col(AttemptEvent.kind),
                    col(AttemptEvent.at_ms), col(AttemptEvent.data),
                )
                .where(col(AttemptEvent.attempt_id).in_(chunk),
                       col(AttemptEvent.kind).in_(_MARK_EVENTS))
                .order_by(col(AttemptEvent.id))
            )  # fmt: skip
            for attempt_id, kind, at_ms, text in rows:
                out[attempt_id].append(_mark(kind, at_ms, msgspec.json.decode(text)))
        return out

    def _first_answers(self, ids: Sequence[str]) -> dict[str, list[tuple[str, int, int]]]:
        """Per attempt, each item's first accepted step: (item, saved_ms, seq)."""
        out: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        for chunk in in_chunks(ids):
            rows = self.session.execute(
                sa.select(
                    col(AnswerStep.attempt_id), col(AnswerStep.item_key),
                    sa.func.min(AnswerStep.saved_ms), sa.func.min(AnswerStep.seq),
                )
                .where(col(AnswerStep.attempt_id).in_(chunk))
                .group_by(col(AnswerStep.attempt_id), col(AnswerStep.item_key))
            )  # fmt: skip
            for attempt_id, item, saved_ms, seq in rows:
                out[attempt_id].append((item, int(saved_ms), int(seq)))
        return out

    def graded(
        self, ids: Sequence[str], learners: Mapping[str, int]
    ) -> dict[str, risk.GradedAttempt]:
        """The graded answers (``item_response``, written for graded formal attempts)
        of ``ids`` with each item's kind; attempts never graded are missing."""
        answers: dict[str, list[risk.GradedAnswer]] = defaultdict(list)
        for chunk in in_chunks(ids):
            rows = self.session.execute(
                sa.select(
                    col(ItemResponse.learner_ref), col(ItemResponse.item_key),
                    col(ItemResponse.response), col(ItemResponse.score),
                    col(ItemResponse.max_score), col(BankItem.kind),
                )
                .join(BankItem, sa.and_(
                    col(BankItem.bank_version_id) == col(ItemResponse.bank_version_id),
                    col(BankItem.key) == col(ItemResponse.item_key)))
                .where(col(ItemResponse.learner_ref).in_(chunk))
            )  # fmt: skip
            for attempt_id, item, response, score, max_score, kind in rows:
                answers[attempt_id].append(
                    risk.GradedAnswer(
                        item=item,
                        kind=kind,
                        response=response,
                        correct=score >= max_score - 1e-9,
                    )
                )
        return {
            attempt_id: risk.GradedAttempt(
                attempt=attempt_id, learner=learners[attempt_id], answers=tuple(found)
            )
            for attempt_id, found in answers.items()
        }


def _mark(kind: str, at_ms: int, data: Mapping[str, Any]) -> risk.Mark:
    if kind == "integrity":
        return risk.Mark(kind=str(data.get("kind", "")), at_ms=at_ms)
    if kind == risk.TAKEOVER_KIND:
        # Device ids are random session ids: their first characters tell them apart.
        old, new = str(data.get("old_device", ""))[:8], str(data.get("new_device", ""))[:8]
        return risk.Mark(kind=kind, at_ms=at_ms, detail=f"{old} → {new}")
    return risk.Mark(kind=kind, at_ms=at_ms)


def _attempt_query(filters: Filters) -> Any:
    query = (
        sa.select(Attempt, User)
        .join(User, col(User.id) == col(Attempt.learner_id))
        .where(col(Attempt.practice).is_(False), col(Attempt.started_ms) >= filters.since_ms)
    )
    if filters.exam is not None:
        query = query.where(col(Attempt.exam_key) == filters.exam)
    if filters.employer is not None:
        query = query.where(col(User.employer) == filters.employer)
    return query


def _flagged(
    row: Attempt, user: User, flags: tuple[Flag, ...], loaded: _Loaded, people: Mapping[str, Peer]
) -> FlaggedAttempt:
    others = sorted({f.other for f in flags if f.other})
    return FlaggedAttempt(
        attempt=row.id,
        exam=row.exam_key,
        exam_title=loaded.title(row.exam_version_id),
        learner=user.display_name,
        login=_masked(user),
        employer=user.employer,
        state=row.state,
        number=row.number,
        started_ms=row.started_ms,
        finished_ms=row.finished_ms,
        flags=flags,
        peers=tuple(people[o] for o in others if o in people),
    )


def _masked(user: User) -> str:
    return masked(user.resident_id or user.login)


def _peer(row: Attempt, user: User) -> Peer:
    return Peer(attempt=row.id, learner=user.display_name, login=_masked(user),
                employer=user.employer)  # fmt: skip


def attempt_list(
    session: Session, *, filters: Filters, now: int, policy: RiskPolicy = POLICY
) -> AttemptList:
    """The flagged formal attempts among the most recent ``SCAN_LIMIT`` matching
    ``filters``, the most recent first."""
    found = session.execute(
        _attempt_query(filters).order_by(col(Attempt.started_ms).desc()).limit(SCAN_LIMIT + 1)
    ).all()
    truncated = len(found) > SCAN_LIMIT
    pairs_of = [(row, user) for row, user in found[:SCAN_LIMIT]]
    loaded = _Loaded(session)
    records = loaded.records([row for row, _ in pairs_of])
    own = {attempt_id: risk.attempt_flags(rec, policy) for attempt_id, rec in records.items()}
    # Similarity: groups of one employer and one exam, the most recent first.
    groups: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
    for row, user in pairs_of:
        if user.employer and row.state in CLOSED_STATES:
            groups[(user.employer, row.exam_key)].append(row)
    cut = sum(1 for rows in groups.values() if len(rows) > policy.similarity_group)
    compared = [row for rows in groups.values() for row in rows[: policy.similarity_group]]
    graded = loaded.graded([r.id for r in compared], {r.id: r.learner_id for r in compared})
    pairs = [
        pair
        for rows in groups.values()
        for pair in risk.similar_pairs([graded[r.id] for r in rows if r.id in graded], policy)
    ]
    flags = risk.flags_with_pairs(own, pairs, policy)
    people = {row.id: _peer(row, user) for row, user in pairs_of}
    out = tuple(
        _flagged(row, user, flags[row.id], loaded, people)
        for row, user in pairs_of
        if flags.get(row.id)
    )
    return AttemptList(
        server_ms=now, filters=filters, policy=policy, scanned=len(pairs_of),
        scan_limit=SCAN_LIMIT, truncated=truncated, groups_cut=cut, attempts=out,
    )  # fmt: skip


def attempt_risk(
    session: Session, *, attempt_id: str, now: int, policy: RiskPolicy = POLICY
) -> AttemptRisk:
    """One attempt's checks, flags and evidence; raises ``AttemptNotFoundError``."""
    found = session.execute(
        sa.select(Attempt, User)
        .join(User, col(User.id) == col(Attempt.learner_id))
        .where(col(Attempt.id) == attempt_id)
    ).first()
    if found is None:
        raise AttemptNotFoundError(attempt_id)
    row, user = found
    loaded = _Loaded(session)
    record = loaded.records([row])[row.id]
    compared: list[risk.Similarity] | None = None
    people: dict[str, Peer] = {}
    if not row.practice and user.employer:
        graded_self = loaded.graded([row.id], {row.id: row.learner_id}).get(row.id)
        if graded_self is not None:
            mates = session.execute(
                sa.select(Attempt, User)
                .join(User, col(User.id) == col(Attempt.learner_id))
                .where(col(Attempt.exam_key) == row.exam_key,
                       col(Attempt.practice).is_(False),
                       col(Attempt.state).in_(CLOSED_STATES),
                       col(User.employer) == user.employer,
                       col(Attempt.learner_id) != row.learner_id)
                .order_by(col(Attempt.started_ms).desc())
                .limit(policy.similarity_group - 1)
            ).all()  # fmt: skip
            people = {mate.id: _peer(mate, mate_user) for mate, mate_user in mates}
            graded = loaded.graded(list(people), {m.id: m.learner_id for m, _ in mates})
            compared = [risk.similarity(graded_self, graded[a]) for a in people if a in graded]
    checks = risk.attempt_checks(record, policy, compared)
    pairs = [p for p in compared or () if risk.reaches(p, policy)]
    order = _positions(session, row)
    flags = risk.flags_with_pairs({row.id: risk.attempt_flags(record, policy)}, pairs, policy)
    flagged = _flagged(row, user, _in_paper_order(flags[row.id], order), loaded, people)
    return AttemptRisk(
        server_ms=now,
        policy=policy,
        attempt=flagged,
        checks=checks,
        items=_item_refs(row, loaded, flagged.flags, order),
        compared=None if compared is None else len(compared),
    )


def _positions(session: Session, row: Attempt) -> dict[str, int]:
    """Each item's place on the attempt's paper, from 1."""
    paper = session.get(Paper, row.paper_id)
    if paper is None:
        return {}
    content = msgspec.json.decode(paper.content, type=PaperContent)
    return {entry.key: n + 1 for n, entry in enumerate(content.items)}


def _in_paper_order(flags: Iterable[Flag], order: Mapping[str, int]) -> tuple[Flag, ...]:
    """Similar answers' rows in the order of the paper (the others keep time order)."""
    last = len(order) + 1
    return tuple(
        msgspec.structs.replace(
            f, evidence=tuple(sorted(f.evidence, key=lambda e: order.get(e.item, last)))
        )
        if f.rule == "similar_answers"
        else f
        for f in flags
    )


def _item_refs(
    row: Attempt, loaded: _Loaded, flags: Iterable[Flag], order: Mapping[str, int]
) -> tuple[ItemRef, ...]:
    named = sorted({e.item for f in flags for e in f.evidence if e.item})
    items = loaded.items(row.exam_version_id)
    refs = []
    for key in named:
        item = items.get(key)
        options = getattr(item.body, "options", ()) if item is not None else ()
        refs.append(
            ItemRef(
                key=key,
                position=order.get(key),
                kind=str(item.kind) if item is not None else "",
                stem=_cut(item.stem) if item is not None else "",
                options={o.id: _cut(o.text, OPTION_CHARS) for o in options},
            )
        )
    return tuple(sorted(refs, key=lambda r: (r.position is None, r.position or 0, r.key)))


def _cut(text: str, size: int = STEM_CHARS) -> str:
    return markup.excerpt(text, size)


# --------------------------------------------------------------------------- study


def _study_query(filters: Filters) -> Any:
    query = (
        sa.select(StudyEvent, User)
        .join(User, col(User.id) == col(StudyEvent.learner_id))
        .where(col(StudyEvent.kind).in_(_STUDY_KINDS), col(StudyEvent.at_ms) >= filters.since_ms)
    )
    if filters.employer is not None:
        query = query.where(col(User.employer) == filters.employer)
    if filters.exam is not None:  # the chapters of the plans that unlock the exam
        chapters = (
            sa.select(col(Chapter.id))
            .join(PlanCourse, col(PlanCourse.course_id) == col(Chapter.course_id))
            .join(PlanRow, col(PlanRow.id) == col(PlanCourse.plan_id))
            .where(col(PlanRow.exam_key) == filters.exam)
        )
        query = query.where(col(StudyEvent.chapter_id).in_(chapters))
    return query


def cycle_list(
    session: Session, *, filters: Filters, now: int, policy: RiskPolicy = POLICY
) -> CycleList:
    """The flagged study cycles among the most recent ``STUDY_SCAN_LIMIT`` missed
    challenges and take-overs matching ``filters``, the latest event first."""
    found = session.execute(
        _study_query(filters)
        .order_by(col(StudyEvent.at_ms).desc(), col(StudyEvent.id).desc())
        .limit(STUDY_SCAN_LIMIT + 1)
    ).all()
    truncated = len(found) > STUDY_SCAN_LIMIT
    marks: dict[tuple[int, int], list[risk.StudyMark]] = defaultdict(list)
    users: dict[int, User] = {}
    for event, user in found[:STUDY_SCAN_LIMIT]:
        data = msgspec.json.decode(event.data)
        users[event.learner_id] = user
        marks[(event.learner_id, event.cycle)].append(
            risk.StudyMark(
                kind=event.kind,
                at_ms=event.at_ms,
                chapter=str(data.get("chapter", "")),
                by_chapter=str(data.get("by_chapter", "")),
                seq=event.seq,
            )
        )
    flagged = []
    for (learner_id, cycle), rows in marks.items():  # latest first, as scanned
        flags = risk.study_flags(rows, policy)
        if flags:
            flagged.append((users[learner_id], cycle, flags, risk.study_checks(rows, policy)))
    titles = _chapter_titles(session, {e.chapter for _, _, fs, _ in flagged for f in fs
                                       for e in f.evidence})  # fmt: skip
    cycles = tuple(
        FlaggedCycle(
            learner=user.display_name,
            login=_masked(user),
            employer=user.employer,
            cycle=cycle,
            flags=flags,
            checks=checks,
            chapters=tuple(
                ChapterRef(key=key, title=titles.get(key, key))
                for key in sorted({e.chapter for f in flags for e in f.evidence})
            ),
        )
        for user, cycle, flags, checks in flagged
    )
    return CycleList(
        server_ms=now, filters=filters, policy=policy, scanned=min(len(found), STUDY_SCAN_LIMIT),
        scan_limit=STUDY_SCAN_LIMIT, truncated=truncated, cycles=cycles,
    )  # fmt: skip


def _chapter_titles(session: Session, keys: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in in_chunks(sorted(keys)):
        rows = session.execute(
            sa.select(col(Chapter.key), col(Chapter.title), col(Course.title))
            .join(Course, col(Course.id) == col(Chapter.course_id))
            .where(col(Chapter.key).in_(chunk))
        )
        for key, title, course in rows:
            out[key] = f"{course} · {title}"
    return out


# -------------------------------------------------------------------------- export

EXPORT_HEADER = (
    "对象 Subject", "考试编号或学习周期 Attempt or cycle", "学员 Learner",
    "身份证号（部分隐去）ID number (masked)", "单位 Employer", "考试 Exam",
    "开始时间（北京时间）Started (CST)", "规则 Rule", "判定条件 Test", "阈值 Threshold",
    "观察值 Observed", "依据题数 Items compared", "对照 Other attempt", "证据 Evidence",
)  # fmt: skip


def cst(ms: int | None) -> str:
    """UTC ms as ``YYYY-MM-DD HH:MM:SS`` in China Standard Time ("" for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=CST).strftime("%Y-%m-%d %H:%M:%S")


def rule_test(rule: Rule, policy: RiskPolicy, lang: int) -> str:
    """The rule's test in words with the policy's numbers (``lang`` 0: zh, 1: en)."""
    return RULE_TESTS[rule][lang].format(
        threshold=_threshold(rule, policy),
        base=f"{policy.reading_base_ms / 1000:g}",
        per_char=policy.reading_ms_per_char,
        share=f"{policy.similarity * 100:g}",
        items=policy.similarity_items,
    )


def _threshold(rule: Rule, policy: RiskPolicy) -> float:
    return {
        "missed_challenges": policy.missed_challenges,
        "study_takeovers": policy.study_takeovers,
        "focus_loss": policy.focus_losses,
        "copy_paste": policy.copy_paste,
        "takeover": policy.takeovers,
        "fast_answers": policy.fast_run,
        "similar_answers": policy.similarity,
    }[rule]


def evidence_line(row: Evidence, chapters: Mapping[str, str] | None = None) -> str:
    """One evidence row as a line of text (both languages' names)."""
    zh, en = WHAT_NAMES[row.what]
    parts = [cst(row.at_ms), f"{zh} {en}"]
    if row.item:
        parts.append(f"题目 item {row.item}")
    if row.chapter:
        parts.append(f"章节 chapter {(chapters or {}).get(row.chapter, row.chapter)}")
    if row.what == "fast_answer":
        parts.append(
            f"距上一作答 since the previous answer {(row.elapsed_ms or 0) / 1000:g} s < "
            f"最短阅读 reading at least {(row.needed_ms or 0) / 1000:g} s"
            + (f"（同批 batch of {row.batch}）" if (row.batch or 1) > 1 else "")
        )
    if row.response or row.other_response:
        parts.append(f"本人 this {row.response} / 对方 other {row.other_response}")
    if row.detail:
        parts.append(row.detail)
    return " · ".join(p for p in parts if p)


def _evidence_cell(flag: Flag, chapters: Mapping[str, str] | None = None) -> str:
    lines = [evidence_line(e, chapters) for e in flag.evidence[:EXPORT_EVIDENCE]]
    more = len(flag.evidence) - EXPORT_EVIDENCE
    if more > 0:
        lines.append(f"… 另有 {more} 条 and {more} more")
    return "\n".join(lines)


def _observed(flag: Flag) -> str:
    if flag.rule == "similar_answers":
        return f"{flag.observed * 100:.0f}%"
    return f"{flag.observed:g}"


def export(session: Session, *, filters: Filters, now: int, policy: RiskPolicy = POLICY) -> bytes:
    """Both lists as one workbook: one row per flag, its evidence in its last cell."""
    listed = attempt_list(session, filters=filters, now=now, policy=policy)
    cycles = cycle_list(session, filters=filters, now=now, policy=policy)
    rows: list[Sequence[Any]] = [EXPORT_HEADER]
    for a in listed.attempts:
        peers = {p.attempt: p for p in a.peers}
        for flag in a.flags:
            peer = peers.get(flag.other)
            other = f"{flag.other} {peer.learner} {peer.login}" if peer else flag.other
            rows.append([
                "考试 attempt", a.attempt, a.learner, a.login, a.employer or "",
                f"{a.exam_title}（{a.exam}）", cst(a.started_ms), _rule_name(flag.rule),
                f"{rule_test(flag.rule, policy, 0)}\n{rule_test(flag.rule, policy, 1)}",
                _threshold_text(flag), _observed(flag),
                "" if flag.basis is None else str(flag.basis), other, _evidence_cell(flag),
            ])  # fmt: skip
    for c in cycles.cycles:
        titles = {ch.key: ch.title for ch in c.chapters}
        for flag in c.flags:
            rows.append([
                "学习周期 study cycle", f"{c.cycle}", c.learner, c.login, c.employer or "",
                "", "", _rule_name(flag.rule),
                f"{rule_test(flag.rule, policy, 0)}\n{rule_test(flag.rule, policy, 1)}",
                _threshold_text(flag), _observed(flag), "", "", _evidence_cell(flag, titles),
            ])  # fmt: skip
    return workbook(rows, title="risk flags")


def _rule_name(rule: Rule) -> str:
    zh, en = RULE_NAMES[rule]
    return f"{zh} {en}"


def _threshold_text(flag: Flag) -> str:
    if flag.rule == "similar_answers":
        return f"{flag.threshold * 100:g}%（≥ {flag.basis_min} 题 items）"
    return f"{flag.threshold:g}"


__all__ = [
    "CST",
    "DEFAULT_SINCE",
    "POLICY",
    "RULE_NAMES",
    "RULE_TESTS",
    "SCAN_LIMIT",
    "SIMILARITY_EXPLAINED",
    "STUDY_SCAN_LIMIT",
    "WHAT_NAMES",
    "AttemptList",
    "AttemptRisk",
    "ChapterRef",
    "CycleList",
    "FilterError",
    "Filters",
    "FlaggedAttempt",
    "FlaggedCycle",
    "ItemRef",
    "Peer",
    "attempt_list",
    "attempt_risk",
    "cst",
    "cycle_list",
    "evidence_line",
    "export",
    "filters",
    "parse_since",
    "rule_test",
]
