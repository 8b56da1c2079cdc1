"""Loading for the attempt use cases: specs, papers, items and answers.

``_Loader`` reads them once per unit of work (the sweeper prefetches a whole batch) and
its ``grader`` is the core's ``grade``: it grades the paper against the latest answers
and records graded formal answers for item analysis. ``ITEMS`` caches the items of
published bank versions for the whole process, ``CONTEXTS`` what an attempt's saves need
(its spec, paper and items: fixed when it starts) by attempt id.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import banks
from api.store.db import in_chunks
from api.store.tables import AnswerStep, Bank, BankVersion, Exam, ExamVersion, ItemResponse
from api.store.tables import Paper as PaperRow
from examengine import attempt as core
from examengine.assembly import Paper
from examengine.blueprint import ExamSpec
from examengine.grading import PaperResult, grade
from itembank.model import Item

# ---------------------------------------------------------------------- the loading


_PAPER_DECODER = msgspec.json.Decoder(Paper)
_SPEC_DECODER = msgspec.json.Decoder(ExamSpec)


class _Context(Struct, frozen=True, kw_only=True):
    """What an attempt's views and grading need: its spec, its paper, the items."""

    spec: ExamSpec
    paper: Paper
    items: Mapping[str, Item]

    @property
    def keys(self) -> list[str]:
        return [entry.key for entry in self.paper.items]


class _Loader:
    """Reads specs, papers, items and answers once per unit of work (the sweeper
    prefetches a whole batch)."""

    def __init__(self, session: Session, *, now: int) -> None:
        self.session = session
        self.now = now
        self._versions: dict[int, tuple[ExamVersion, ExamSpec]] = {}
        self._papers: dict[int, Paper] = {}
        self._items: dict[tuple[int, bool], Mapping[str, Item]] = {}
        self._latest: dict[str, dict[str, tuple[int, Any]]] = {}

    def prefetch(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        for chunk in in_chunks([r.paper_id for r in rows]):
            for paper_id, content in self.session.execute(
                sa.select(col(PaperRow.id), col(PaperRow.content)).where(
                    col(PaperRow.id).in_(chunk)
                )
            ):
                self._papers[paper_id] = _PAPER_DECODER.decode(content)
        ids = [r.id for r in rows]
        texts: dict[str, dict[str, tuple[int, str]]] = {i: {} for i in ids}
        for chunk in in_chunks(ids):
            steps = self.session.execute(
                sa.select(
                    col(AnswerStep.attempt_id),
                    col(AnswerStep.item_key),
                    col(AnswerStep.seq),
                    col(AnswerStep.response),
                )
                .where(col(AnswerStep.attempt_id).in_(chunk))
                .order_by(col(AnswerStep.attempt_id), col(AnswerStep.item_key), col(AnswerStep.seq))
            )
            for attempt_id, item_key, seq, text in steps:
                texts[attempt_id][item_key] = (seq, text)
        for attempt_id, latest in texts.items():
            self._latest[attempt_id] = {
                key: (seq, msgspec.json.decode(text)) for key, (seq, text) in latest.items()
            }

    def version(self, version_id: int) -> tuple[ExamVersion, ExamSpec]:
        if version_id not in self._versions:
            row = self.session.get(ExamVersion, version_id)
            assert row is not None, "an attempt's exam version is never deleted"
            self._versions[version_id] = (row, _SPEC_DECODER.decode(row.spec))
        return self._versions[version_id]

    def paper(self, paper_id: int) -> Paper:
        if paper_id not in self._papers:
            row = self.session.get(PaperRow, paper_id)
            assert row is not None, "an attempt's paper is never deleted"
            self._papers[paper_id] = _PAPER_DECODER.decode(row.content)
        return self._papers[paper_id]

    def context(self, row: Any, *, current: bool = False) -> _Context:
        if current:  # the newest items: not what the attempt started with
            return self._context(row, current=True)
        return CONTEXTS.get(row.id, lambda: self._context(row, current=False))

    def _context(self, row: Any, *, current: bool) -> _Context:
        version_row, spec = self.version(row.exam_version_id)
        key = (row.exam_version_id, current)
        if key not in self._items:
            items = _items(self.session, version_row)
            if current:
                items = {**items, **_current_items(self.session, spec)}
            self._items[key] = items
        return _Context(spec=spec, paper=self.paper(row.paper_id), items=self._items[key])

    def latest(self, attempt_id: str) -> dict[str, tuple[int, Any]]:
        """Per item, the seq and response of its newest step."""
        if attempt_id not in self._latest:
            self._latest[attempt_id] = _latest_steps(self.session, attempt_id)
        return self._latest[attempt_id]

    def answers(self, attempt_id: str) -> dict[str, Any]:
        """Per item, the learner's answer (the response of its newest step)."""
        return {key: response for key, (_, response) in self.latest(attempt_id).items()}

    def result(self, row: Any, *, current: bool = False) -> PaperResult:
        context = self.context(row, current=current)
        return grade(
            context.paper.items,
            context.items,
            self.answers(row.id),
            pass_mark=context.spec.pass_mark,
            # the equated standard: the points this paper needs (its TCC at θ_c)
            pass_score=context.paper.pass_score,
        )

    def grader(self, row: Any, *, current: bool = False) -> Callable[[], core.Grade]:
        """The core's ``grade``: the paper and the latest answers (against the items of
        the attempt's bank version, or the newest published ones when ``current``)."""

        def graded() -> core.Grade:
            outcome = self.result(row, current=current)
            if not row.practice:
                self._record_responses(row, outcome)
            return core.Grade(
                score=outcome.score, max_score=outcome.max_score, passed=outcome.passed
            )

        return graded

    def _record_responses(self, row: Any, outcome: PaperResult) -> None:
        """Every graded formal answer feeds item analysis (``bank stats``): one row per
        item of the paper, replaced when the attempt is regraded. The learner appears
        only as the attempt id."""
        version_row, _ = self.version(row.exam_version_id)
        answers = self.answers(row.id)
        self.session.execute(sa.delete(ItemResponse).where(col(ItemResponse.learner_ref) == row.id))
        self.session.execute(
            sa.insert(ItemResponse),
            [
                {
                    "bank_version_id": version_row.bank_version_id,
                    "item_key": item.key,
                    "learner_ref": row.id,
                    "response": answers.get(item.key),
                    "score": item.points,
                    "max_score": item.max_points,
                    "created_at": datetime.fromtimestamp(self.now / 1000, tz=UTC),
                }
                for item in outcome.items
            ],
        )


K = TypeVar("K")
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A process-wide LRU cache of values that never change once made, shared by the
    worker threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        items = load()
        with self._lock:
            self._entries[key] = items
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return items

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: Items of published bank versions by (id, content hash): they never change, and the
#: content hash makes a reused id (a new database) a miss, never a stale hit.
ITEMS: _Cache[tuple[int, str], Mapping[str, Item]] = _Cache(size=32)
#: An attempt's spec, paper and items (of its bank version) by attempt id — random, so
#: never reused — for its saves: 4 reads and 2 decodes fewer each. An attempt's paper
#: and exam version never change once it started. Sized for the attempts open in one
#: process at a peak (a miss only reads them again).
CONTEXTS: _Cache[str, _Context] = _Cache(size=8192)


def _items(session: Session, version_row: ExamVersion) -> Mapping[str, Item]:
    bank_row = session.get(BankVersion, version_row.bank_version_id)
    assert bank_row is not None and bank_row.id is not None
    bank = session.get(Bank, bank_row.bank_id)
    assert bank is not None

    def load() -> Mapping[str, Item]:
        items = banks.load_items(session, bank=bank.name, version=bank_row.version)
        return {item.key: item for item in items}

    return ITEMS.get((bank_row.id, bank_row.content_hash), load)


def _current_items(session: Session, spec: ExamSpec) -> Mapping[str, Item]:
    """The items of the newest published version of the spec's bank."""
    newest = session.exec(
        select(BankVersion)
        .join(Bank, col(Bank.id) == col(BankVersion.bank_id))
        .where(Bank.name == spec.bank, BankVersion.state == "published")
        .order_by(col(BankVersion.version).desc())
        .limit(1)
    ).first()
    if newest is None or newest.id is None:
        return {}
    version = newest.version

    def load() -> Mapping[str, Item]:
        return {i.key: i for i in banks.load_items(session, bank=spec.bank, version=version)}

    return ITEMS.get((newest.id, newest.content_hash), load)


def _published_spec(session: Session, exam: str) -> tuple[ExamVersion, ExamSpec] | None:
    row = session.exec(
        select(ExamVersion)
        .join(Exam, col(Exam.id) == col(ExamVersion.exam_id))
        .where(Exam.key == exam, ExamVersion.state == "published")
        .order_by(col(ExamVersion.version).desc())
        .limit(1)
    ).first()
    return None if row is None else (row, _SPEC_DECODER.decode(row.spec))


def _latest_steps(session: Session, attempt_id: str) -> dict[str, tuple[int, Any]]:
    """Per item, the newest step's seq and response."""
    latest: dict[str, tuple[int, Any]] = {}
    steps = session.execute(
        sa.select(col(AnswerStep.item_key), col(AnswerStep.seq), col(AnswerStep.response))
        .where(col(AnswerStep.attempt_id) == attempt_id)
        .order_by(col(AnswerStep.item_key), col(AnswerStep.seq))
    )
    for key, seq, text in steps:
        latest[key] = (seq, text)
    return {key: (seq, msgspec.json.decode(text)) for key, (seq, text) in latest.items()}


def _latest_seqs(session: Session, attempt_id: str, items: Iterable[str]) -> dict[str, int]:
    """The seq of the newest step of each of ``items`` that has one.

    One index seek per item (a correlated ``max`` on the (attempt, item, seq) index), so
    a save costs the same at an item's first change and at its thousandth: grouping the
    attempt's steps instead read every one of them (0.7 ms on SQLite at 4,000 steps,
    against 10 µs)."""
    wanted = sorted(set(items))
    if not wanted:
        return {}
    params: dict[str, Any] = {f"k{n}": key for n, key in enumerate(wanted)}
    params["attempt"] = attempt_id
    rows = session.execute(_newest_of(len(wanted)), params)
    return {key: seq for key, seq in rows if seq is not None}


@functools.lru_cache(maxsize=64)
def _newest_of(count: int) -> sa.TextClause:
    """``_latest_seqs``'s statement for ``count`` items (made once per count: SQLAlchemy
    cannot cache a compiled ``VALUES`` list, and compiling one costs more than the
    query)."""
    rows = ", ".join(f"(:k{n})" for n in range(count))
    return sa.text(
        f"WITH wanted(item_key) AS (VALUES {rows}) "
        "SELECT item_key, (SELECT max(seq) FROM answer_step"
        " WHERE attempt_id = :attempt AND answer_step.item_key = wanted.item_key)"
        " FROM wanted"
    )
