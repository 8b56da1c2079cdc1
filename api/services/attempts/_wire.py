"""What the attempt use cases take and return: msgspec Structs, which the HTTP shell
sends as they are.

The answer key is in none of the learner's views (``PaperView``, ``SaveResult``,
``Heartbeat``, ``MyExams``): they carry stems, option texts and prompts only;
``ResultView`` adds the key only as ``examengine.disclosure`` allows (decision 0013).
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

# ----------------------------------------------------------------------------- wire


class Save(Struct, frozen=True, kw_only=True):
    """One answer change: ``seq`` increases with every change the browser makes."""

    item: str
    seq: int
    response: Any = None


class SaveRef(Struct, frozen=True, kw_only=True, array_like=True):
    item: str
    seq: int


class OpenAttempt(Struct, frozen=True, kw_only=True):
    attempt: str
    practice: bool
    seconds_left: int
    deadline_ms: int


class AttemptSummary(Struct, frozen=True, kw_only=True):
    attempt: str
    number: int
    cycle: int
    practice: bool
    state: str
    started_ms: int
    finished_ms: int | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None


class ExamEntry(Struct, frozen=True, kw_only=True):
    """One enrolled exam as the learner sees it: may a formal attempt start, and why."""

    exam: str
    title: str
    duration_s: int
    may_start: bool
    code: str
    message: str
    message_zh: str
    cycle: int
    attempts_used: int
    attempts_allowed: int
    attempts_left: int
    locked: bool
    passed: bool
    practice_enabled: bool
    #: When the learner's formal start opens under the exam's staggered start window
    #: (UTC ms; None: no window). Before it ``code`` is ``start_not_open``.
    start_opens_ms: int | None = None
    #: May a practice attempt start now, and why not (``practice_daily_cap``,
    #: ``practice_cooldown``, ``attempt_open`` …); ``practice_retry_ms``: when it may.
    practice_may_start: bool = False
    practice_code: str = ""
    practice_message: str = ""
    practice_message_zh: str = ""
    practice_retry_ms: int | None = None
    #: The spec's practice cap per day and cool-down (0 when practice is off).
    practice_per_day: int = 0
    practice_cooldown_s: int = 0
    open_attempt: OpenAttempt | None = None
    open_practice: OpenAttempt | None = None
    history: tuple[AttemptSummary, ...] = ()


class MyExams(Struct, frozen=True, kw_only=True):
    server_ms: int
    exams: tuple[ExamEntry, ...]


class PaperOptionView(Struct, frozen=True, kw_only=True):
    """An option of a paper item as the learner sees it (no fraction, no feedback).
    ``text_html``: the text rendered and sanitized (``api.services.markup``)."""

    id: str
    text: str
    text_html: str = ""


class PaperItemView(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item as the learner sees it: no fractions, feedback, answers or explanation.
    ``options`` (single/multiple) are in the paper's order; a matching item shows its
    ``prompts`` in order and its ``answers`` (distractors included) shuffled."""

    position: int
    item: str
    kind: str
    section: int
    section_title: str
    stem: str
    points: float
    #: The stem rendered and sanitized, safe to insert as HTML (``api.services.markup``).
    stem_html: str = ""
    options: tuple[PaperOptionView, ...] = ()
    prompts: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()


class AnswerView(Struct, frozen=True, kw_only=True):
    item: str
    seq: int
    response: Any = None


class PaperView(Struct, frozen=True, kw_only=True):
    """The learner's paper and their latest saved answers. ``last_seq`` is the highest
    sequence number accepted: a browser (or a new device) numbers its changes after it."""

    attempt: str
    exam: str
    title: str
    practice: bool
    number: int
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    last_seq: int
    items: tuple[PaperItemView, ...]
    answers: tuple[AnswerView, ...]
    #: The items the learner flagged for review (kept with the attempt: any browser).
    flags: tuple[str, ...] = ()


class SaveResult(Struct, frozen=True, kw_only=True):
    attempt: str
    accepted: tuple[SaveRef, ...]
    repeated: tuple[SaveRef, ...]
    stale: tuple[SaveRef, ...]
    last_seq: int
    seconds_left: int
    server_ms: int
    #: The deadline now: a proctor's extension reaches the page with the next save.
    deadline_ms: int = 0


class Flags(Struct, frozen=True, kw_only=True):
    """The items the learner flagged for review, as stored."""

    attempt: str
    flags: tuple[str, ...]


class Heartbeat(Struct, frozen=True, kw_only=True):
    """``device_moved``: another device took the attempt over; this one can no longer save."""

    attempt: str
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    device_moved: bool


class ItemReview(Struct, frozen=True, kw_only=True):
    """One item after the close whose key the rule lets out (``examengine.disclosure``):
    the question as the paper showed it (``kind``, ``stem``, ``options`` in the paper's
    order, matching ``prompts``), the learner's ``response`` and the key (``correct``, in
    the shape of a response), the points and the explanation."""

    position: int
    item: str
    points: float
    max_points: float
    response: Any
    correct: Any
    explanation: str = ""
    kind: str = ""
    section: int = 0
    section_title: str = ""
    stem: str = ""
    #: The stem rendered and sanitized (``api.services.markup``), as the paper showed it.
    stem_html: str = ""
    options: tuple[PaperOptionView, ...] = ()
    prompts: tuple[str, ...] = ()


class ResultView(Struct, frozen=True, kw_only=True):
    """An attempt's outcome. ``passed`` is None while it is open; an expired attempt has
    no score and ``passed`` false. ``items`` (the key) only when ``key_shown``, and only
    the items whose key ``examengine.disclosure`` lets out; ``key_held`` says why the
    others are held back (``open``, ``off``, ``formal_ahead``, ``shared``; "" for none)."""

    attempt: str
    exam: str
    practice: bool
    number: int
    state: str
    seconds_left: int
    server_ms: int
    started_ms: int
    deadline_ms: int
    finished_ms: int | None
    score: float | None
    max_score: float | None
    passed: bool | None
    reason: str
    key_shown: bool
    key_held: str = ""
    items: tuple[ItemReview, ...] = ()
    #: The exam's title and its pass mark (a share of ``max_score``: 0.6 is 60 %; under
    #: the equated standard, this paper's ``pass_score`` as a share of its maximum).
    title: str = ""
    pass_mark: float = 0.0
    #: The points this paper needed under the equated standard (its expected score at
    #: the cut ability θ_c; decision 0038); None under the raw standard.
    pass_score: float | None = None
    #: "raw" (``pass_mark`` of every paper's maximum) or "equated".
    pass_standard: str = "raw"


class OperatorAttempt(Struct, frozen=True, kw_only=True):
    """An attempt as an operator sees it after acting on it."""

    attempt: str
    learner: str
    exam: str
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    reason: str = ""


class GrantOutcome(Struct, frozen=True, kw_only=True):
    learner: str
    exam: str
    cycle: int
    extra_attempts: int
    extra_time_ms: int
    #: Attempts the learner may now make in this cycle, counting the grant.
    attempts_allowed: int


class StepView(Struct, frozen=True, kw_only=True):
    item: str
    seq: int
    response: Any
    saved_ms: int
    device: str


class EventView(Struct, frozen=True, kw_only=True):
    kind: str
    at_ms: int
    data: dict[str, Any]


class StepLog(Struct, frozen=True, kw_only=True):
    attempt: str
    learner: str
    exam: str
    state: str
    steps: tuple[StepView, ...]
    events: tuple[EventView, ...]


class LiveAttempt(Struct, frozen=True, kw_only=True):
    attempt: str
    #: The learner's login (a resident ID number: pages show it masked) and name.
    learner: str
    exam: str
    practice: bool
    state: str
    seconds_left: int
    deadline_ms: int
    device: str
    last_save_ms: int | None
    events: int
    name: str = ""


class LiveList(Struct, frozen=True, kw_only=True):
    server_ms: int
    attempts: tuple[LiveAttempt, ...]


class SweepOutcome(Struct, frozen=True, kw_only=True):
    #: Attempts looked at (due) and attempts closed (or moved into their grace period).
    checked: int
    changed: int
    #: Attempts graded (closed earlier awaiting their grade; ``grade_due``).
    graded: int = 0
    #: Of each attempt it closed: how long after its finish (the deadline, or the end
    #: of the grace period) the close was stored.
    lags_ms: tuple[int, ...] = ()


class EnrollOutcome(Struct, frozen=True, kw_only=True):
    #: Learners newly enrolled, and learners who were enrolled already.
    enrolled: int
    already: int
