"""The Structs the study service hands out and takes in: what the browser sees (a
status, a challenge, an ack, the learner's plans), what a new session needs
(``StartInfo`` and its anti-idle ``Question``s), what the ticker stores (``Grant``,
``StoredEvent``, ``Batch``, ``TickOutcome``) and what a session taken over hands on
(``Carry``).
"""

from __future__ import annotations

from msgspec import Struct

from examengine import credit
from examengine.challenges import ChallengePolicy

# --------------------------------------------------------------------------- wire


class ChallengeOptionView(Struct, frozen=True, kw_only=True):
    id: str
    text: str


class ChallengeView(Struct, frozen=True, kw_only=True):
    """A challenge as the browser sees it (no key). ``closing``: the check that closes
    the chapter's last segment. Answer with POST /api/study/ack before ``expires_ms``."""

    seq: int
    closing: bool
    kind: str
    prompt: str
    options: tuple[ChallengeOptionView, ...]
    issued_ms: int
    expires_ms: int


class StudyStatus(Struct, frozen=True, kw_only=True):
    """A study session as the browser sees it: credit so far (verified), what the open
    segment holds (not credit until verified), and a due challenge if there is one."""

    token: str
    chapter: str
    cycle: int
    state: str
    duration_s: int
    credited_s: int
    pending_s: int
    percent: float
    complete: bool
    position_ms: int
    heartbeat_s: int
    server_ms: int
    challenge: ChallengeView | None = None


class AckResult(Struct, frozen=True, kw_only=True):
    """The answer is queued: the next tick (within a second) closes the segment."""

    seq: int
    queued: bool
    server_ms: int


class PlanEntry(Struct, frozen=True, kw_only=True):
    progress: credit.PlanProgress
    exam: str | None
    restudy_due: bool
    #: The electives wait until the required hours are credited (``credit.electives_locked``).
    electives_locked: bool = False


class MyPlans(Struct, frozen=True, kw_only=True):
    server_ms: int
    plans: tuple[PlanEntry, ...]


class Question(Struct, frozen=True, kw_only=True):
    """An anti-idle question and its key (the key stays on the server)."""

    prompt: str
    options: tuple[ChallengeOptionView, ...]
    correct: frozenset[str]


class StartInfo(Struct, frozen=True, kw_only=True):
    """What a new study session needs from the database."""

    learner: int
    plan: str
    chapter: credit.Chapter
    chapter_id: int
    cycle: int
    credited_ms: int
    position_ms: int
    course: str
    questions: tuple[Question, ...]
    #: The plan's anti-idle policy (None: the service's default).
    policy: ChallengePolicy | None = None


class Grant(Struct, frozen=True, kw_only=True):
    """One chapter's live credit to store (credit only grows; completion once)."""

    learner: int
    chapter_id: int
    cycle: int
    credited_ms: int
    position_ms: int
    completed_ms: int | None


class StoredEvent(Struct, frozen=True, kw_only=True):
    learner: int
    chapter_id: int
    cycle: int
    event: credit.AnyEvent


class Batch(Struct, frozen=True, kw_only=True):
    """What one tick or flush hands to ``persist``."""

    now: int
    grants: tuple[Grant, ...] = ()
    events: tuple[StoredEvent, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.grants or self.events)


class TickOutcome(Struct, frozen=True, kw_only=True):
    batch: Batch
    issued: int
    passed: int
    missed: int


class Carry(Struct, frozen=True, kw_only=True):
    """What a session taken over hands to the one that replaces it (possibly in another
    worker): unstored credit and the position carry over within the same chapter and
    cycle."""

    chapter: str
    cycle: int
    credited_ms: int
    position_ms: int
