"""The compiled exams: compiling a spec against its bank version's items (``compile_exam``,
~50 ms on a 10k-item bank) — and, when the spec names a calibration of its bank, that
calibration's item parameters — once, and keeping the result in a small LRU
(``COMPILED``) that building, auditing and previewing papers share.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from sqlmodel import Session

from api.services import banks
from api.services import calibration as calibrations
from api.services.exams._row import (
    _SPEC_ENCODER,
    _bank_problem,
    _bank_version_row,
    _calibration_problem,
)
from examengine.assembly import CompiledExam, compile_exam
from examengine.blueprint import ExamSpec
from examengine.errors import SpecInvalidError
from itembank.errors import BankNotFoundError


class _CompiledCache:
    """A small LRU of compiled exams (compiling takes ~50 ms on a 10k-item bank).

    The key is (bank version id, the bank version's content hash, a digest of the spec's
    JSON). That is safe because a compiled exam is a pure function of the spec and the
    bank version's items: a published exam version and a published bank version never
    change, so their entries can never go stale; a draft exam version changed in place
    has a new spec digest, and a draft bank version edited in place (``banks.save_item``)
    has a new content hash, so an edit is a miss, never a stale hit. Entries are read by
    many request threads: a lock guards the dict; a compile runs outside it (two threads
    may compile the same exam once each, harmlessly).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str, str], CompiledExam] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, str], build: Callable[[], CompiledExam]) -> CompiledExam:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        compiled = build()
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


COMPILED = _CompiledCache(size=16)


def _compiled(session: Session, spec: ExamSpec) -> CompiledExam:
    """The compiled exam of ``spec`` (cached); ``SpecInvalidError`` if it has errors."""
    try:
        bank_row = _bank_version_row(session, spec.bank, spec.bank_version)
    except BankNotFoundError as exc:
        raise SpecInvalidError(spec.key, [_bank_problem(spec, exc)]) from None
    assert bank_row.id is not None
    digest = hashlib.blake2b(_SPEC_ENCODER.encode(spec), digest_size=16).hexdigest()
    if spec.calibration is not None:
        # a calibration never changes once stored; its row id and time tell a number
        # reused in a new database apart
        calibrated = calibrations.fingerprint(session, spec.bank, spec.calibration)
        if calibrated is None:
            raise SpecInvalidError(spec.key, [_calibration_problem(spec)])
        digest = f"{digest}:{calibrated}"
    key = (bank_row.id, bank_row.content_hash, digest)

    def build() -> CompiledExam:
        items = banks.load_items(session, bank=spec.bank, version=spec.bank_version)
        if spec.calibration is None:
            return compile_exam(spec, items)
        parameters = calibrations.parameters(session, spec.bank, spec.calibration)
        return compile_exam(spec, items, parameters)

    return COMPILED.get(key, build)
