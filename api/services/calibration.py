"""Calibrations of item banks: IRT parameters fitted to the stored formal responses of a
bank version, stored as numbered records, and what is read from them — an exam's item
parameters, differential item functioning between groups of learners, and the test
information of an exam's papers (docs/decisions/0039).

Each function is one unit of work on a session the caller opened and takes the time as
``now``. The rules are itembank's (``itembank.calibration``: the fit, provisional items,
linking, drift, fit statistics; ``itembank.dif``: Mantel–Haenszel); this module reads
the responses, builds the learners × items matrix and stores what comes back.

- The input is the ``item_response`` rows of one bank version: one row per item of a
  graded **formal** paper (practice attempts are never recorded; a row whose attempt is
  a practice one is skipped all the same). The matrix holds the share of the item's
  points earned (0–1), NaN where the learner's paper did not hold the item.
- A calibration is linked to the bank's latest earlier one (its parameters by item key:
  the common items are the anchors), so every calibration of a bank is on one scale.
- Records are numbered per bank from 1 and never change; an exam spec names the number
  it is assembled with (``ExamSpec.calibration``).
- Learners are never shown: a response row names an attempt id; DIF reads the group
  (employer, district, gender) of the account behind it and answers counts per group
  only, judging only groups of at least ``min_group`` learners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import banks
from api.store.db import in_chunks
from api.store.tables import (
    Attempt,
    Bank,
    BankVersion,
    Calibration,
    CalibrationItem,
    ItemResponse,
    User,
)
from examengine.assembly import assemble
from itembank import calibration as core
from itembank.calibration import CalibratedItem, Link
from itembank.dif import DifItem, mantel_haenszel
from itembank.errors import BankNotFoundError, ItembankError
from itembank.irt import ItemParameters, paper_information
from itembank.model import difficulty_logit

Model = Literal["rasch", "2pl"]
MODELS: tuple[str, ...] = get_args(Model)
Group = Literal["employer", "district", "gender"]
GROUPS: tuple[str, ...] = get_args(Group)
#: Fewest learners a group must have to be judged for DIF, or even named in a list of
#: groups (a smaller one could point at people).
DIF_MIN_GROUP = 100
#: ``learner_ref`` prefix of simulated responses (the demo's cohort): a calibration
#: built on any says so in its notes.
SIMULATED_PREFIX = "sim-"
#: How a note about simulated learners begins (pages translate it by this prefix).
SIMULATED_NOTE = "simulated"
#: Items whose responses one statement reads (``_matrix``).
MATRIX_CHUNK = 20
#: The θ grid of an exam's information band (logits).
THETAS: tuple[float, ...] = tuple(round(-4.0 + 0.25 * n, 2) for n in range(33))


class CalibrationNotFoundError(BankNotFoundError):
    """The bank has no calibration of that number (a 404, like an unknown bank)."""

    code = "calibration_not_found"

    def __init__(self, bank: str, number: int) -> None:
        self.bank = bank
        self.version = None
        self.number = number
        ItembankError.__init__(
            self,
            f"bank {bank!r} has no calibration {number}",
            f"题库 {bank!r} 没有第 {number} 次校准",
        )


class CalibrationRequestError(ItembankError):
    """A calibration or DIF request with a bad field (a 422 naming the field)."""

    code = "calibration_request_invalid"

    def __init__(self, field: str, message: str, message_zh: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}", f"{field}：{message_zh}")


class _Calibrated(Struct, frozen=True, kw_only=True):
    """What a calibration's record and its line in a list share."""

    number: int
    bank: str
    bank_version: int
    model: str
    fitter: str
    created_at: datetime
    learners: int
    link: Link
    converged: bool
    notes: tuple[str, ...]


class CalibrationRecord(_Calibrated, frozen=True, kw_only=True):
    """A stored calibration: the fit (``itembank.calibration.Calibration``) with its
    number, bank version and time. ``items`` in the bank version's item order."""

    iterations: int
    min_responses: int
    items: tuple[CalibratedItem, ...]
    log_likelihood: float | None = None


class CalibrationSummary(_Calibrated, frozen=True, kw_only=True):
    """One calibration in a bank's list: its counts, not its items."""

    #: Items in it, those still provisional (authored labels), those flagged.
    items: int
    provisional: int
    flagged: int


class DifGroup(Struct, frozen=True, kw_only=True):
    """A group learners of a calibration's responses fall in, and how many did."""

    label: str
    learners: int


class DifReport(Struct, frozen=True, kw_only=True):
    """Mantel–Haenszel DIF of a calibration's items between ``focal`` and ``reference``
    (None: every other learner with a label) among learners grouped by ``group``."""

    bank: str
    number: int
    group: str
    focal: str
    reference: str | None
    min_group: int
    #: Learners of each side (with a paper of this bank version).
    focal_learners: int
    reference_learners: int
    items: tuple[DifItem, ...]


class InformationBand(Struct, frozen=True, kw_only=True):
    """The test information curve of an exam's papers: across ``papers`` sampled
    papers, at each θ of ``thetas``, the mean and the 5th and 95th percentiles;
    ``theta_cut`` is the pass mark's θ_c (None when it cannot be told)."""

    exam: str
    version: int
    calibration: int | None
    papers: int
    thetas: tuple[float, ...]
    mean: tuple[float, ...]
    p5: tuple[float, ...]
    p95: tuple[float, ...]
    theta_cut: float | None = None
    #: The information at θ_c: mean, 5th and 95th percentile across the papers.
    at_cut: tuple[float, float, float] | None = None


# ------------------------------------------------------------------------- calibrate


class Prepared(Struct, frozen=True, kw_only=True):
    """What a fit needs, read in one unit of work (``prepare``): the fit itself runs
    outside any transaction (a large bank takes seconds: no connection sits idle in a
    transaction meanwhile), and ``store`` writes it in another."""

    bank: str
    bank_version: int
    bank_version_id: int
    model: str
    min_responses: int
    keys: tuple[str, ...]
    authored: tuple[float, ...]
    learners: tuple[str, ...]
    scores: npt.NDArray[np.float64]
    previous: dict[str, ItemParameters] | None
    previous_number: int | None


def calibrate(
    session: Session,
    *,
    bank: str,
    version: int | None = None,
    model: str = "2pl",
    actor: int | None,
    now: datetime,
    min_responses: int = core.DEFAULT_MIN_RESPONSES,
) -> CalibrationRecord:
    """Fit ``model`` to the formal responses of a bank version (the latest when
    ``version`` is None), link it to the bank's latest calibration and store it as the
    bank's next number (``prepare``, ``fit`` and ``store`` in one unit of work).

    Items with fewer than ``min_responses`` responses stay provisional (their authored
    difficulty); a version with too few responses gives a calibration of provisional
    items only, with a note saying so. Raises ``BankNotFoundError`` and
    ``CalibrationRequestError`` (a model other than ``rasch`` or ``2pl``).
    """
    prepared = prepare(
        session, bank=bank, version=version, model=model, min_responses=min_responses
    )
    return store(session, prepared, fit(prepared), actor=actor, now=now)


def prepare(
    session: Session,
    *,
    bank: str,
    version: int | None = None,
    model: str = "2pl",
    min_responses: int = core.DEFAULT_MIN_RESPONSES,
) -> Prepared:
    """Read what a calibration of the bank version needs: its items' keys and authored
    difficulties, the learners × items matrix of its formal responses, and the bank's
    latest calibration to link to."""
    if model not in MODELS:
        raise CalibrationRequestError(
            "model", f"{model!r} is not one of {', '.join(MODELS)}", f"{model!r} 不是 rasch 或 2pl"
        )
    bank_row, version_row = banks._version(session, bank, version)
    assert version_row.id is not None
    items = banks._items_of(session, version_row)
    keys = tuple(item.key for item in items)
    learners, scores = _matrix(session, version_row, keys)
    previous = _latest_row(session, bank_row)
    return Prepared(
        bank=bank_row.name,
        bank_version=version_row.version,
        bank_version_id=version_row.id,
        model=model,
        min_responses=min_responses,
        keys=keys,
        authored=tuple(difficulty_logit(item.difficulty) for item in items),
        learners=tuple(learners),
        scores=scores,
        previous=_parameters_of(session, previous) if previous is not None else None,
        previous_number=previous.number if previous is not None else None,
    )


def fit(prepared: Prepared) -> core.Calibration:
    """The model fit (``itembank.calibration.calibrate``): no database."""
    return core.calibrate(
        prepared.scores,
        prepared.keys,
        prepared.authored,
        model=prepared.model,  # type: ignore[arg-type]
        min_responses=prepared.min_responses,
        previous=prepared.previous,
        previous_number=prepared.previous_number,
    )


def store(
    session: Session,
    prepared: Prepared,
    fitted: core.Calibration,
    *,
    actor: int | None,
    now: datetime,
) -> CalibrationRecord:
    """Store a fit as the bank's next calibration. The bank row is locked for the
    number, so two at once take numbers one after the other (each names, in its link,
    the calibration it was linked to)."""
    bank_row = _locked_bank(session, prepared.bank)
    version_row = session.get(BankVersion, prepared.bank_version_id)
    assert version_row is not None, "a bank version is never deleted"
    newest = _latest_row(session, bank_row)
    simulated = sum(1 for ref in prepared.learners if ref.startswith(SIMULATED_PREFIX))
    notes = list(fitted.notes)
    if simulated:
        notes.append(
            f"{SIMULATED_NOTE}: {simulated} of the {len(prepared.learners)} learners are "
            "simulated (demo data), not real responses"
        )
    row = Calibration(
        bank_id=bank_row.id,  # type: ignore[arg-type]
        number=newest.number + 1 if newest is not None else 1,
        bank_version_id=version_row.id,  # type: ignore[arg-type]
        model=fitted.model,
        fitter=fitted.fitter[:120],
        created_at=now,
        created_by=actor,
        learners=fitted.learners,
        link_method=fitted.link.method,
        link_a=float(fitted.link.A),
        link_b=float(fitted.link.B),
        link_anchors=fitted.link.anchors,
        link_previous=fitted.link.previous,
        converged=fitted.converged,
        iterations=fitted.iterations,
        log_likelihood=_finite(fitted.log_likelihood),
        min_responses=fitted.min_responses,
        notes=notes,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.execute(
        sa.insert(CalibrationItem),
        [_item_values(row.id, n, item) for n, item in enumerate(fitted.items)],
    )
    session.flush()
    return _record(bank_row, version_row, row, _items(session, row))


def get(session: Session, bank: str, number: int) -> CalibrationRecord:
    """Calibration ``number`` of ``bank``; ``CalibrationNotFoundError`` if none."""
    bank_row = banks._bank(session, bank)
    row = _row(session, bank_row, number)
    return _record(bank_row, _version_row(session, row), row, _items(session, row))


def latest(session: Session, bank: str) -> CalibrationRecord | None:
    """The bank's newest calibration, or None."""
    bank_row = banks._bank(session, bank)
    row = _latest_row(session, bank_row)
    if row is None:
        return None
    return _record(bank_row, _version_row(session, row), row, _items(session, row))


def listing(session: Session, bank: str) -> list[CalibrationSummary]:
    """Every calibration of the bank, newest first."""
    bank_row = banks._bank(session, bank)
    rows = session.exec(
        select(Calibration)
        .where(Calibration.bank_id == bank_row.id)
        .order_by(col(Calibration.number).desc())
    ).all()
    counts = _item_counts(session, [r.id for r in rows if r.id is not None])
    versions = dict(
        session.exec(
            select(BankVersion.id, BankVersion.version).where(BankVersion.bank_id == bank_row.id)
        ).all()
    )
    return [
        CalibrationSummary(
            number=r.number,
            bank=bank_row.name,
            bank_version=versions[r.bank_version_id],
            model=r.model,
            fitter=r.fitter,
            created_at=r.created_at,
            learners=r.learners,
            link=_link(r),
            converged=r.converged,
            notes=tuple(r.notes),
            items=counts.get(r.id or 0, (0, 0, 0))[0],
            provisional=counts.get(r.id or 0, (0, 0, 0))[1],
            flagged=counts.get(r.id or 0, (0, 0, 0))[2],
        )
        for r in rows
    ]


def parameters(session: Session, bank: str, number: int) -> dict[str, ItemParameters]:
    """The item parameters of calibration ``number`` of ``bank`` by item key (what an
    exam spec naming it is assembled with)."""
    bank_row = banks._bank(session, bank)
    return _parameters_of(session, _row(session, bank_row, number))


def fingerprint(session: Session, bank: str, number: int) -> str | None:
    """What tells calibration ``number`` of ``bank`` apart from another stored under the
    same number (a new database): its row id and time. None when there is none."""
    found = session.exec(
        select(Calibration.id, Calibration.created_at)
        .join(Bank, col(Bank.id) == col(Calibration.bank_id))
        .where(Bank.name == bank, Calibration.number == number)
    ).first()
    return None if found is None else f"{found[0]}@{found[1].isoformat()}"


def exists(session: Session, bank: str, number: int) -> bool:
    return fingerprint(session, bank, number) is not None


# ------------------------------------------------------------------------------- DIF


def dif_groups(
    session: Session, bank: str, number: int, *, group: str, min_group: int = DIF_MIN_GROUP
) -> list[DifGroup]:
    """The labels of ``group`` among the calibration's learners that have at least
    ``min_group`` learners (smaller groups are not named), largest first."""
    _check_group(group)
    bank_row = banks._bank(session, bank)
    row = _row(session, bank_row, number)
    labels = _labels(session, row, group)
    counts: dict[str, int] = {}
    for label in labels.values():
        if label:
            counts[label] = counts.get(label, 0) + 1
    return [
        DifGroup(label=label, learners=n)
        for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= min_group
    ]


def dif(
    session: Session,
    bank: str,
    number: int,
    *,
    group: str,
    focal: str,
    reference: str | None = None,
    min_group: int = DIF_MIN_GROUP,
) -> DifReport:
    """Mantel–Haenszel DIF of calibration ``number``'s items, ``focal`` against
    ``reference`` (None: every other learner with a label) among the learners of its
    responses grouped by their account's ``group`` (employer, district or gender).

    Items of a group with fewer than ``min_group`` learners are not judged (``ets`` is
    None). Raises ``CalibrationRequestError`` for an unknown group, an empty focal
    label, or a reference equal to the focal one."""
    _check_group(group)
    focal = focal.strip()
    if not focal or len(focal) > 200:
        raise CalibrationRequestError(
            "focal", "name the focal group (1 to 200 characters)", "请填写焦点组（1 至 200 个字符）"
        )
    if reference is not None:
        reference = reference.strip() or None
    if reference == focal:
        raise CalibrationRequestError(
            "reference",
            "the reference group must differ from the focal group",
            "参照组不能与焦点组相同",
        )
    if group == "gender":
        for field, value in (("focal", focal), ("reference", reference)):
            if value is not None and value not in ("male", "female"):
                raise CalibrationRequestError(
                    field,
                    f"{value!r}: a gender is male or female",
                    f"{value!r}：性别应为 male 或 female",
                )
    bank_row = banks._bank(session, bank)
    row = _row(session, bank_row, number)
    keys = [item.item_key for item in _item_rows(session, row)]
    version_row = _version_row(session, row)
    learners, scores = _matrix(session, version_row, keys)
    labels = _labels(session, row, group)
    groups = [labels.get(ref) for ref in learners]
    items = mantel_haenszel(
        scores, keys, groups, focal=focal, reference=reference, min_group=min_group
    )
    focal_n = sum(1 for g in groups if g == focal)
    reference_n = sum(
        1 for g in groups if g is not None and g != focal and (reference is None or g == reference)
    )
    return DifReport(
        bank=bank_row.name,
        number=row.number,
        group=group,
        focal=focal,
        reference=reference,
        min_group=min_group,
        focal_learners=focal_n,
        reference_learners=reference_n,
        items=tuple(items),
    )


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise CalibrationRequestError(
            "group",
            f"{group!r} is not one of {', '.join(GROUPS)}",
            f"{group!r} 不是 employer（单位）、district（地区）或 gender（性别）之一",
        )


def _labels(session: Session, row: Calibration, group: str) -> dict[str, str | None]:
    """Per learner ref (attempt id) of the calibration's bank version, the ``group``
    field of the account behind it."""
    column = col(
        {"employer": User.employer, "district": User.district, "gender": User.gender}[group]
    )
    refs = (
        select(ItemResponse.learner_ref)
        .where(ItemResponse.bank_version_id == row.bank_version_id)
        .distinct()
        .subquery()
    )
    found = session.execute(
        sa.select(col(Attempt.id), column)
        .join(User, col(User.id) == col(Attempt.learner_id))
        .where(col(Attempt.id).in_(sa.select(refs.c.learner_ref)))
    ).all()
    return {attempt: (label or None) for attempt, label in found}


# ------------------------------------------------------------------ exam information


def exam_information(
    session: Session,
    exam_key: str,
    *,
    papers: int = 200,
    thetas: Sequence[float] = THETAS,
    version: int | None = None,
) -> InformationBand:
    """The test information curve of ``papers`` papers of the exam (its latest
    published version, else its latest), as a band across them: the mean and the 5th
    and 95th percentiles at each θ. Items take the parameters of the spec's calibration
    (uncalibrated ones, or every item of a spec naming none: the authored difficulty,
    a = 1). The papers are drawn with fixed seeds 1 … ``papers``: the same band every
    time for the same exam version."""
    # exams imports this module (an exam's parameters): imported here, not at the top
    from api.services.exams import _row as exam_rows  # noqa: PLC0415
    from api.services.exams import cache  # noqa: PLC0415
    from api.services.exams.error import ExamNotFoundError  # noqa: PLC0415

    exam_row = exam_rows._exam(session, exam_key)
    if version is None:
        found = exam_rows._latest(session, exam_row, published=True) or exam_rows._latest(
            session, exam_row
        )
        if found is None:
            raise ExamNotFoundError(exam_key)
    else:
        found = exam_rows._version(session, exam_row, version)
    spec, number = exam_rows._decode_spec(found.spec), found.version
    compiled = cache._compiled(session, spec)
    # a calibrated exam holds its items' a, b and θ_c (examengine.assembly); otherwise
    # the authored difficulty with a = 1, and no θ_c
    a = compiled.a if compiled.calibrated else np.ones(len(compiled.keys))
    b = compiled.b if compiled.calibrated else compiled.logit
    batch = assemble(compiled, np.arange(1, papers + 1, dtype=np.uint64))
    grid = np.asarray(thetas, dtype=np.float64)
    curves = np.stack([paper_information(grid, a[row], b[row]) for row in batch.item])
    theta_cut = at_cut = None
    if compiled.theta_cut is not None and batch.information is not None:
        theta_cut = round(float(compiled.theta_cut), 4)
        info = batch.information  # each paper's information at θ_c
        at_cut = (
            round(float(info.mean()), 4),
            round(float(np.percentile(info, 5)), 4),
            round(float(np.percentile(info, 95)), 4),
        )
    return InformationBand(
        exam=spec.key,
        version=number,
        calibration=spec.calibration,
        papers=papers,
        thetas=tuple(float(t) for t in grid),
        mean=_rounded(curves.mean(axis=0)),
        p5=_rounded(np.percentile(curves, 5, axis=0)),
        p95=_rounded(np.percentile(curves, 95, axis=0)),
        theta_cut=theta_cut,
        at_cut=at_cut,
    )


def _rounded(values: npt.NDArray[np.float64]) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in values)


# ------------------------------------------------------------------------------ rows


def _locked_bank(session: Session, bank: str) -> Bank:
    """The bank row, locked (PostgreSQL) so two calibrations at once take numbers one
    after the other."""
    # FOR NO KEY UPDATE: a new bank version (its key-share lock on the bank) still goes in
    query = select(Bank).where(Bank.name == bank).with_for_update(key_share=True)
    found = session.exec(query).first()
    if found is None:
        raise BankNotFoundError(bank)
    return found


def _matrix(
    session: Session, version_row: BankVersion, keys: Sequence[str]
) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The learners (refs, sorted) and their learners × items matrix of the version's
    formal responses: the share of the item's points earned, NaN where not presented.

    Read ``MATRIX_CHUNK`` items at a time and placed with numpy."""
    found: list[Any] = []
    # a statement per few items (the (version, item) index): each stays short, well
    # inside the database's statement timeout, however many responses the bank holds
    for chunk in in_chunks(list(keys), MATRIX_CHUNK):
        found += session.execute(
            sa.select(
                col(ItemResponse.learner_ref),
                col(ItemResponse.item_key),
                col(ItemResponse.score),
                col(ItemResponse.max_score),
            )
            .outerjoin(Attempt, col(Attempt.id) == col(ItemResponse.learner_ref))
            .where(
                col(ItemResponse.bank_version_id) == version_row.id,
                col(ItemResponse.item_key).in_(chunk),
                sa.or_(col(Attempt.practice).is_(None), col(Attempt.practice).is_(False)),
            )
        ).all()
    if not found:
        return [], np.full((0, len(keys)), np.nan)
    refs_read, keys_read, earned, possible = zip(*found, strict=True)
    refs, row = np.unique(np.array(refs_read, dtype=object), return_inverse=True)
    column = {key: j for j, key in enumerate(keys)}
    j = np.fromiter((column.get(k, -1) for k in keys_read), dtype=np.int64, count=len(found))
    top = np.asarray(possible, dtype=np.float64)
    kept = (j >= 0) & (top > 0)
    share = np.asarray(earned, dtype=np.float64)[kept] / top[kept]
    scores = np.full((len(refs), len(keys)), np.nan)
    scores[row.reshape(-1)[kept], j[kept]] = np.clip(share, 0.0, 1.0)
    return [str(ref) for ref in refs], scores


def _row(session: Session, bank_row: Bank, number: int) -> Calibration:
    found = session.exec(
        select(Calibration).where(Calibration.bank_id == bank_row.id, Calibration.number == number)
    ).first()
    if found is None:
        raise CalibrationNotFoundError(bank_row.name, number)
    return found


def _latest_row(session: Session, bank_row: Bank) -> Calibration | None:
    return session.exec(
        select(Calibration)
        .where(Calibration.bank_id == bank_row.id)
        .order_by(col(Calibration.number).desc())
        .limit(1)
    ).first()


def _version_row(session: Session, row: Calibration) -> BankVersion:
    found = session.get(BankVersion, row.bank_version_id)
    assert found is not None, "a calibrated bank version is never deleted"
    return found


def _item_rows(session: Session, row: Calibration) -> list[CalibrationItem]:
    return list(
        session.exec(
            select(CalibrationItem)
            .where(CalibrationItem.calibration_id == row.id)
            .order_by(col(CalibrationItem.position))
        ).all()
    )


def _items(session: Session, row: Calibration) -> list[CalibratedItem]:
    return [
        CalibratedItem(
            key=r.item_key,
            a=r.a,
            b=r.b,
            se_a=r.se_a,
            se_b=r.se_b,
            responses=r.responses,
            p_value=r.p_value,
            infit=r.infit,
            outfit=r.outfit,
            provisional=r.provisional,
            anchor=r.anchor,
            drift_b=r.drift_b,
            drift_a=r.drift_a,
            flags=tuple(r.flags),
        )
        for r in _item_rows(session, row)
    ]


def _parameters_of(session: Session, row: Calibration) -> dict[str, ItemParameters]:
    return {
        r.item_key: ItemParameters(a=r.a, b=r.b, provisional=r.provisional)
        for r in _item_rows(session, row)
    }


def _item_counts(session: Session, ids: Sequence[int]) -> Mapping[int, tuple[int, int, int]]:
    """Per calibration id: items, provisional items, items with a flag."""
    out: dict[int, tuple[int, int, int]] = {}
    if not ids:
        return out
    for calibration_id, provisional, flags in session.execute(
        sa.select(
            col(CalibrationItem.calibration_id),
            col(CalibrationItem.provisional),
            col(CalibrationItem.flags),
        ).where(col(CalibrationItem.calibration_id).in_(ids))
    ):
        n, p, f = out.get(calibration_id, (0, 0, 0))
        out[calibration_id] = (n + 1, p + bool(provisional), f + bool(flags))
    return out


def _link(row: Calibration) -> Link:
    return Link(
        method=row.link_method,  # type: ignore[arg-type]
        A=row.link_a,
        B=row.link_b,
        anchors=row.link_anchors,
        previous=row.link_previous,
    )


def _record(
    bank_row: Bank, version_row: BankVersion, row: Calibration, items: list[CalibratedItem]
) -> CalibrationRecord:
    return CalibrationRecord(
        number=row.number,
        bank=bank_row.name,
        bank_version=version_row.version,
        model=row.model,
        fitter=row.fitter,
        created_at=row.created_at,
        learners=row.learners,
        link=_link(row),
        converged=row.converged,
        iterations=row.iterations,
        min_responses=row.min_responses,
        notes=tuple(row.notes),
        items=tuple(items),
        log_likelihood=row.log_likelihood,
    )


def _item_values(calibration_id: int, position: int, item: CalibratedItem) -> dict[str, object]:
    return {
        "calibration_id": calibration_id,
        "position": position,
        "item_key": item.key,
        "a": float(item.a),
        "b": float(item.b),
        "se_a": _finite(item.se_a),
        "se_b": _finite(item.se_b),
        "responses": int(item.responses),
        "p_value": _finite(item.p_value),
        "infit": _finite(item.infit),
        "outfit": _finite(item.outfit),
        "provisional": bool(item.provisional),
        "anchor": bool(item.anchor),
        "drift_a": _finite(item.drift_a),
        "drift_b": _finite(item.drift_b),
        "flags": list(item.flags),
    }


def _finite(value: float | None) -> float | None:
    """A float the database and JSON can hold: NaN and ±inf become None."""
    if value is None or not np.isfinite(value):
        return None
    return float(value)
