"""Attempt use cases: the learner's exams, start, resume, the paper, answer saves,
heartbeats, submit and results; the operators' extensions, grants, terminations, step
logs, regrades and live list; and ``sweep``, the time-driven close.

Each public function is one unit of work on a session the caller opened
(``api.store.db.transaction``) and takes the time as ``now`` (UTC milliseconds, read once by
the caller). The rules are examengine's (``attempt``, ``eligibility``, ``grading``); this
package loads rows, calls the core, and stores what it returns: the attempt row, the
accepted answer steps (append-only) and every event.

Callers use the package (``from api.services import attempts``); the modules, by what
the learner or the operator does:

- ``start``: enrollment, the learner's exams (eligibility), start, resume, the paper;
- ``preassembly``: the enrolled learners' next papers stored before the exam opens;
- ``saves``: answer saves, heartbeats and the flags kept for review;
- ``closing``: submit, results, regrades and ``sweep``;
- ``operator``: extensions, grants, terminations, step logs and the live list;
- ``_rows`` (locks, the row ⇄ core conversion, storing; the concurrency rules are
  there), ``_loading`` (specs, papers, items, answers; the items cache ``ITEMS``),
  ``_wire`` (the Structs) and ``_errors``: what they share.

The answer key never leaves this package before the attempt is closed: the learner's
views (``PaperView``, ``SaveResult``, ``Heartbeat``, ``MyExams``) are built from stems,
option texts and prompts only; ``ResultView`` adds the key only as
``examengine.disclosure`` allows (closed, shown by the spec, and never an item a formal
paper the learner may still sit can hold: decision 0013).
"""

from api.services.attempts._errors import (
    AttemptNotFoundError,
    AttemptServiceError,
    BadAnswerError,
    LearnerNotFoundError,
    LearnersNotFoundError,
    NotEligibleError,
)
from api.services.attempts._loading import ITEMS
from api.services.attempts._rows import OPEN_STATES
from api.services.attempts._wire import (
    AnswerView,
    AttemptSummary,
    EnrollOutcome,
    EventView,
    ExamEntry,
    Flags,
    GrantOutcome,
    Heartbeat,
    ItemReview,
    LiveAttempt,
    LiveList,
    MyExams,
    OpenAttempt,
    OperatorAttempt,
    PaperItemView,
    PaperOptionView,
    PaperView,
    ResultView,
    Save,
    SaveRef,
    SaveResult,
    StepLog,
    StepView,
    SweepOutcome,
)
from api.services.attempts.closing import (
    SWEEP_BATCH,
    close_due,
    grade_due,
    regrade,
    result,
    submit,
    sweep,
)
from api.services.attempts.operator import LIVE_LIMIT, extend, grant, live, step_log, terminate
from api.services.attempts.preassembly import PreassemblyOutcome, preassemble
from api.services.attempts.saves import (
    MAX_RESPONSE_CHARS,
    MAX_SAVES,
    heartbeat,
    save_answers,
    set_flags,
)
from api.services.attempts.start import (
    enroll,
    enroll_learners,
    my_exams,
    new_study_cycle,
    paper_view,
    resume,
    start,
)

__all__ = [
    "ITEMS",
    "LIVE_LIMIT",
    "MAX_RESPONSE_CHARS",
    "MAX_SAVES",
    "OPEN_STATES",
    "SWEEP_BATCH",
    "AnswerView",
    "AttemptNotFoundError",
    "AttemptServiceError",
    "AttemptSummary",
    "BadAnswerError",
    "EnrollOutcome",
    "EventView",
    "ExamEntry",
    "Flags",
    "GrantOutcome",
    "Heartbeat",
    "ItemReview",
    "LearnerNotFoundError",
    "LearnersNotFoundError",
    "LiveAttempt",
    "LiveList",
    "MyExams",
    "NotEligibleError",
    "OpenAttempt",
    "OperatorAttempt",
    "PaperItemView",
    "PaperOptionView",
    "PaperView",
    "PreassemblyOutcome",
    "ResultView",
    "Save",
    "SaveRef",
    "SaveResult",
    "StepLog",
    "StepView",
    "SweepOutcome",
    "close_due",
    "enroll",
    "enroll_learners",
    "extend",
    "grade_due",
    "grant",
    "heartbeat",
    "live",
    "my_exams",
    "new_study_cycle",
    "paper_view",
    "preassemble",
    "regrade",
    "result",
    "resume",
    "save_answers",
    "set_flags",
    "start",
    "step_log",
    "submit",
    "sweep",
    "terminate",
]
