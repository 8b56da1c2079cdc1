"""Study use cases and the live study sessions.

Two halves (docs/decisions/0009-credited-study.md):

- **Use cases on the database**, one transaction each on a session the caller opened:
  ``save_plan`` (authoring and demo data), ``enroll``, ``my_plans`` (progress, credit
  required, completion %, whether a re-study is due), ``prepare_start`` (what a study
  session needs: the plan, the chapter, the cycle, the stored credit and the course's
  anti-idle questions), ``restudy`` (a new cycle after the exam locked), and
  ``persist`` (one batch from the ticker: credit, positions, completions and integrity
  events; a completed plan then meets the exam's study requirement).
- **``LiveStudy``**, the live state of every open study session, kept in memory beside
  the challenge scheduler (the slot is the key): begin, heartbeat and ack run on the
  event loop without a database write and without touching numpy beyond O(1) reads
  (acks are list appends); ``tick`` applies the scheduler's issues, passes and misses
  to the core's rules (``examengine.credit``) and returns the batch to persist.

The rules are the core's; this package holds sessions, routes challenges and stores.

Modules: ``plan`` (store, decode and load plans), ``enrollment`` (enroll, my plans,
re-study, what a session starts from), ``progress`` (credit storage: ``persist``,
``refresh_study_met``, ``stored_credit``), ``wire`` (the Structs handed in and out),
``live`` (``LiveStudy``), ``pool`` (the schedulers of one challenge policy), ``token``
(signed study tokens) and ``_shared`` (errors, encoder, the learner's enrollments).
Import from the package: ``from api.services import study; study.enroll(...)``.
"""

from api.services.study.enrollment import (
    QUESTIONS_PER_COURSE,
    enroll,
    enroll_free,
    enroll_many,
    my_plans,
    prepare_start,
    require_free,
    restudy,
)
from api.services.study.live import HEARTBEAT_S, IDLE_END_MS, LiveStudy
from api.services.study.plan import decode_plan, load_plan, save_plan, set_price
from api.services.study.pool import Schedulers, closing_policy
from api.services.study.progress import persist, refresh_study_met, stored_credit
from api.services.study.token import login_tag, open_token
from api.services.study.wire import (
    AckResult,
    Batch,
    Carry,
    ChallengeOptionView,
    ChallengeView,
    Grant,
    MyPlans,
    PlanEntry,
    Question,
    StartInfo,
    StoredEvent,
    StudyStatus,
    TickOutcome,
)

__all__ = [
    "HEARTBEAT_S",
    "IDLE_END_MS",
    "QUESTIONS_PER_COURSE",
    "AckResult",
    "Batch",
    "Carry",
    "ChallengeOptionView",
    "ChallengeView",
    "Grant",
    "LiveStudy",
    "MyPlans",
    "PlanEntry",
    "Question",
    "Schedulers",
    "StartInfo",
    "StoredEvent",
    "StudyStatus",
    "TickOutcome",
    "closing_policy",
    "decode_plan",
    "enroll",
    "enroll_free",
    "enroll_many",
    "load_plan",
    "login_tag",
    "my_plans",
    "open_token",
    "persist",
    "prepare_start",
    "refresh_study_met",
    "require_free",
    "restudy",
    "save_plan",
    "set_price",
    "stored_credit",
]
