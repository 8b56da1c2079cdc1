"""Item-bank use cases: import, publish, edit, search, export, diff and item analysis.

Each function is one unit of work on a session the caller opened (``api.store.db.transaction``)
and takes the time as ``now``. The rules are itembank's (lint, diff, scoring, analysis);
this module only reads and writes rows.

Versions: an import or an edit makes a new *draft* version (an edit of a draft changes
that draft in place); ``publish`` freezes a draft for good. A re-import whose items are
identical to the latest version's makes no new version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import media
from api.store.tables import Bank, BankItem, BankVersion, ItemResponse
from itembank import exporting
from itembank.analysis import ExamStats, analyse
from itembank.errors import (
    BankNotFoundError,
    ImportRefusedError,
    InvalidItemError,
    ItemNotFoundError,
    VersionPublishedError,
)
from itembank.formats import ParsedItem
from itembank.lint import LintReport, lint_file, lint_items
from itembank.model import Item, MultipleChoice, SingleChoice
from itembank.problems import Location
from itembank.versioning import BankDiff, content_hash, diff

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long imports (the CLI's bar)."""

INSERT_CHUNK = 2000


class VersionInfo(Struct, frozen=True, kw_only=True):
    bank: str
    version: int
    state: str
    item_count: int
    source_format: str
    source_name: str
    content_hash: str
    created_at: datetime
    published_at: datetime | None = None


class ImportOutcome(Struct, frozen=True, kw_only=True):
    version: VersionInfo
    report: LintReport
    unchanged: bool = False


def _info(bank: Bank, row: BankVersion) -> VersionInfo:
    return VersionInfo(
        bank=bank.name,
        version=row.version,
        state=row.state,
        item_count=row.item_count,
        source_format=row.source_format,
        source_name=row.source_name,
        content_hash=row.content_hash,
        created_at=row.created_at,
        published_at=row.published_at,
    )


def lint_upload(data: bytes, *, source: str, fmt: str | None = None) -> LintReport:
    """The lint report for a file, stored nowhere."""
    return lint_file(data, source=source, format=fmt)


def question_counts(report: LintReport) -> tuple[int, int]:
    """``(questions in the file, questions with an error)``, counting the questions a
    parser could not read as well as the items it read.

    An error names its question by item key or by place; an error at no item read and
    at no line of its own (a file-level error) is not a question. The lint's own count of
    the questions seen (``LintReport.items_seen``, from the parser) wins where it is
    larger: it also knows questions that were skipped without an error.
    """
    index: dict[tuple[str, ...], int] = {}
    for n, entry in enumerate(report.items):
        index.setdefault(("key", entry.item.key), n)
        index.setdefault(("at", entry.location.sheet, str(entry.location.line)), n)
    broken: set[tuple[str, ...]] = set()
    unread: set[tuple[str, ...]] = set()
    for p in report.problems:
        if p.severity != "error":
            continue
        by_key = ("key", p.item_key) if p.item_key else None
        by_place = ("at", p.sheet, str(p.line))
        if by_key in index or by_place in index:
            broken.add(("item", str(index.get(by_key or by_place, index.get(by_place)))))
        elif p.item_key or p.line:
            unread.add(by_key or by_place)
    seen = max(len(report.items) + len(unread), report.items_seen)
    return seen, min(seen, len(broken) + len(unread))


def import_file(
    session: Session,
    *,
    data: bytes,
    source: str,
    bank: str,
    now: datetime,
    fmt: str | None = None,
    author_id: int | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Lint ``data`` and, if it has no errors, store its items as a new draft version.

    All or nothing: raises ``ImportRefusedError`` (with every problem) and stores nothing
    when the file has an error.
    """
    report = lint_upload(data, source=source, fmt=fmt)
    if progress:
        progress("lint", len(report.items), len(report.items))
    if not report.ok:
        raise ImportRefusedError(source, report.problems)
    items = [p.item for p in report.items]
    bank_row = _get_or_create_bank(session, bank, now)
    latest = _latest(session, bank_row)
    digest = content_hash(items)
    if latest is not None and latest.content_hash == digest:
        return ImportOutcome(version=_info(bank_row, latest), report=report, unchanged=True)
    row = _new_version(session, bank_row, items, now=now, author_id=author_id, digest=digest)
    row.source_format, row.source_name = report.format, source
    _insert_items(session, row, items, progress)
    assert bank_row.id is not None and row.id is not None
    media.store(session, bank_id=bank_row.id, version_id=row.id, media=report.media)
    return ImportOutcome(version=_info(bank_row, row), report=report)


def publish(session: Session, *, bank: str, version: int, now: datetime) -> VersionInfo:
    """Freeze a draft. Publishing a published version is a no-op (idempotent)."""
    bank_row, row = _version(session, bank, version, for_update=True)
    if row.state != "published":
        row.state, row.published_at = "published", now
        session.add(row)
        session.flush()
    return _info(bank_row, row)


def list_banks(session: Session) -> list[VersionInfo]:
    """The latest version of every bank."""
    out = []
    for bank_row in session.exec(select(Bank).order_by(col(Bank.name))):
        latest = _latest(session, bank_row)
        if latest is not None:
            out.append(_info(bank_row, latest))
    return out


def list_versions(session: Session, *, bank: str) -> list[VersionInfo]:
    bank_row = _bank(session, bank)
    rows = session.exec(
        select(BankVersion)
        .where(BankVersion.bank_id == bank_row.id)
        .order_by(col(BankVersion.version))
    )
    return [_info(bank_row, r) for r in rows]


def version_info(session: Session, *, bank: str, version: int | None = None) -> VersionInfo:
    return _info(*_version(session, bank, version))


def load_items(session: Session, *, bank: str, version: int | None = None) -> list[Item]:
    """The items of a version (the latest when ``version`` is None), in file order."""
    _, row = _version(session, bank, version)
    return _items_of(session, row)


class ItemPage(Struct, frozen=True, kw_only=True):
    version: int
    total: int
    items: tuple[Item, ...]


def search_items(
    session: Session,
    *,
    bank: str,
    version: int | None = None,
    text: str = "",
    topic: str = "",
    kind: str = "",
    status: str = "",
    offset: int = 0,
    limit: int = 50,
) -> ItemPage:
    """Items matching every given filter (``text`` searches key and stem), one page."""
    _, row = _version(session, bank, version)
    query = select(BankItem).where(BankItem.bank_version_id == row.id)
    if topic:
        query = query.where(BankItem.topic == topic)
    if kind:
        query = query.where(BankItem.kind == kind)
    if status:
        query = query.where(BankItem.status == status)
    if text:
        needle = f"%{text}%"
        query = query.where(sa.or_(col(BankItem.key).like(needle), col(BankItem.data).like(needle)))
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(BankItem.position)).offset(offset).limit(limit))
    return ItemPage(version=row.version, total=total, items=tuple(_decode(r.data) for r in rows))


def get_item(session: Session, *, bank: str, key: str, version: int | None = None) -> Item:
    _, row = _version(session, bank, version)
    found = session.exec(
        select(BankItem).where(BankItem.bank_version_id == row.id, BankItem.key == key)
    ).first()
    if found is None:
        raise ItemNotFoundError(bank, key)
    return _decode(found.data)


def save_item(
    session: Session, *, bank: str, item: Item, now: datetime, author_id: int | None = None
) -> VersionInfo:
    """Create or replace one item; returns the version that now holds it.

    The item is linted first (``InvalidItemError`` with its problems). On a published
    latest version, a new draft version is made with the edit; a draft is edited in place.
    """
    bank_row = _bank(session, bank)
    latest = _latest(session, bank_row)
    if latest is None:
        raise BankNotFoundError(bank)
    items = _items_of(session, latest)
    replaced = [item if i.key == item.key else i for i in items]
    if not any(i.key == item.key for i in items):
        replaced.append(item)
    own = [p for p in lint_items(_located(replaced)) if p.item_key == item.key]
    if any(p.severity == "error" for p in own):
        raise InvalidItemError(item.key, own)
    if latest.state == "published":
        target = _new_version(
            session, bank_row, replaced, now=now, author_id=author_id, digest=content_hash(replaced)
        )
        target.source_format, target.source_name = "edit", f"edit of {item.key}"
        _insert_items(session, target, replaced, None)
        return _info(bank_row, target)
    _replace_draft_item(session, latest, item, replaced)
    return _info(bank_row, latest)


def export(session: Session, *, bank: str, fmt: str, version: int | None = None) -> bytes:
    """The version's items written in format ``fmt`` (with their images where the format
    carries them)."""
    return export_report(session, bank=bank, fmt=fmt, version=version, check=False).data


def export_report(
    session: Session, *, bank: str, fmt: str, version: int | None = None, check: bool = True
) -> exporting.ExportResult:
    """The version's items written in format ``fmt``, with their images where the format
    carries them and (``check``) a warning for every field the format cannot carry
    (``itembank.exporting``)."""
    bank_row, row = _version(session, bank, version)
    assert bank_row.id is not None
    items = _items_of(session, row)
    images = (
        media.load(session, bank_id=bank_row.id, hashes=exporting.images_in(items))
        if fmt in exporting.CARRIES_IMAGES
        else {}
    )
    if not check:
        return exporting.ExportResult(data=exporting.dump(items, fmt, images), format=fmt)
    return exporting.export(items, fmt, images)


def diff_versions(session: Session, *, bank: str, old: int, new: int) -> BankDiff:
    return diff(
        load_items(session, bank=bank, version=old), load_items(session, bank=bank, version=new)
    )


def item_analysis(session: Session, *, bank: str, version: int | None = None) -> ExamStats:
    """Classical item statistics from the stored responses to this version's items."""
    _, row = _version(session, bank, version)
    items = _items_of(session, row)
    column = {item.key: j for j, item in enumerate(items)}
    responses = session.exec(
        select(ItemResponse).where(ItemResponse.bank_version_id == row.id)
    ).all()
    learners = {ref: i for i, ref in enumerate(sorted({r.learner_ref for r in responses}))}
    scores = np.full((len(learners), len(items)), np.nan)
    choices = np.zeros((len(learners), len(items)), dtype=np.int64)
    answered = np.zeros((len(learners), len(items)), dtype=bool)
    for r in responses:
        j = column.get(r.item_key)
        if j is None or r.max_score <= 0:
            continue
        i = learners[r.learner_ref]
        scores[i, j] = r.score / r.max_score
        choices[i, j] = _choice_mask(items[j], r.response)
        answered[i, j] = _answered(r.response)
    return analyse(
        scores,
        [item.key for item in items],
        choices=choices,
        correct_masks=[_correct_mask(item) for item in items],
        option_counts=[_option_count(item) for item in items],
        answered=answered,
    )


# -- rows ----------------------------------------------------------------------------------


def _bank(session: Session, name: str) -> Bank:
    found = session.exec(select(Bank).where(Bank.name == name)).first()
    if found is None:
        raise BankNotFoundError(name)
    return found


def _get_or_create_bank(session: Session, name: str, now: datetime) -> Bank:
    found = session.exec(select(Bank).where(Bank.name == name)).first()
    if found is not None:
        return found
    row = Bank(name=name, created_at=now)
    session.add(row)
    session.flush()
    return row


def _latest(session: Session, bank_row: Bank) -> BankVersion | None:
    return session.exec(
        select(BankVersion)
        .where(BankVersion.bank_id == bank_row.id)
        .order_by(col(BankVersion.version).desc())
        .limit(1)
    ).first()


def _version(
    session: Session, bank: str, version: int | None, *, for_update: bool = False
) -> tuple[Bank, BankVersion]:
    bank_row = _bank(session, bank)
    if version is None:
        latest = _latest(session, bank_row)
        if latest is None:
            raise BankNotFoundError(bank)
        return bank_row, latest
    query = select(BankVersion).where(
        BankVersion.bank_id == bank_row.id, BankVersion.version == version
    )
    if for_update:
        query = query.with_for_update()
    found = session.exec(query).first()
    if found is None:
        raise BankNotFoundError(bank, version)
    return bank_row, found


def _new_version(
    session: Session,
    bank_row: Bank,
    items: Sequence[Item],
    *,
    now: datetime,
    author_id: int | None,
    digest: str,
) -> BankVersion:
    latest = _latest(session, bank_row)
    row = BankVersion(
        bank_id=bank_row.id,  # type: ignore[arg-type]
        version=(latest.version + 1) if latest else 1,
        state="draft",
        source_format="",
        content_hash=digest,
        item_count=len(items),
        created_at=now,
        created_by=author_id,
    )
    session.add(row)
    session.flush()
    return row


def _row_values(version_id: int, position: int, item: Item) -> dict[str, Any]:
    return {
        "bank_version_id": version_id,
        "position": position,
        "key": item.key,
        "kind": item.kind.value,
        "topic": item.topic,
        "status": item.status.value,
        "data": _ENCODER.encode(item).decode(),
    }


def _insert_items(
    session: Session, row: BankVersion, items: Sequence[Item], progress: Progress | None
) -> None:
    assert row.id is not None
    for start in range(0, len(items), INSERT_CHUNK):
        chunk = items[start : start + INSERT_CHUNK]
        values = [_row_values(row.id, start + i, item) for i, item in enumerate(chunk)]
        session.execute(sa.insert(BankItem), values)
        if progress:
            progress("store", start + len(chunk), len(items))


def _replace_draft_item(
    session: Session, row: BankVersion, item: Item, items: Sequence[Item]
) -> None:
    if row.state == "published":  # pragma: no cover - callers branch on state first
        raise VersionPublishedError(str(row.bank_id), row.version)
    existing = session.exec(
        select(BankItem).where(BankItem.bank_version_id == row.id, BankItem.key == item.key)
    ).first()
    assert row.id is not None
    if existing is None:
        session.execute(sa.insert(BankItem), [_row_values(row.id, len(items) - 1, item)])
    else:
        values = _row_values(row.id, existing.position, item)
        for name, value in values.items():
            setattr(existing, name, value)
        session.add(existing)
    row.item_count = len(items)
    row.content_hash = content_hash(items)
    session.add(row)
    session.flush()


def _items_of(session: Session, row: BankVersion) -> list[Item]:
    data = session.exec(
        select(BankItem.data)
        .where(BankItem.bank_version_id == row.id)
        .order_by(col(BankItem.position))
    ).all()
    return [_decode(d) for d in data]


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Item)


def _decode(data: str) -> Item:
    return _DECODER.decode(data)


def _located(items: Sequence[Item]) -> list[ParsedItem]:
    return [ParsedItem(item=item, location=Location(line=i + 1)) for i, item in enumerate(items)]


def _options(item: Item) -> tuple[Any, ...]:
    return item.body.options if isinstance(item.body, SingleChoice | MultipleChoice) else ()


def _option_count(item: Item) -> int:
    return len(_options(item))


def _correct_mask(item: Item) -> int:
    return sum(1 << i for i, o in enumerate(_options(item)) if o.fraction > 0)


def _choice_mask(item: Item, response: Any) -> int:
    """The options chosen as bits (0 for items that are not choice items)."""
    ids = {o.id: i for i, o in enumerate(_options(item))}
    if not ids:
        return 0
    chosen = [response] if isinstance(response, str) else response
    if not isinstance(chosen, list | tuple):
        return 0
    return sum(1 << ids[c] for c in chosen if isinstance(c, str) and c in ids)


def _answered(response: Any) -> bool:
    """Whether a stored response is an answer (not a blank: nothing, empty text, no
    option chosen, no pair matched)."""
    if response is None:
        return False
    if isinstance(response, str):
        return bool(response.strip())
    if isinstance(response, list | tuple):
        return any(_answered(r) for r in response)
    if isinstance(response, dict):
        return any(_answered(r) for r in response.values())
    return True
