"""The images of item banks: stored on import, fetched by those who may see them.

A bank file's images (``itembank.media``) are stored once per bank under their SHA-256
(``BankMedia``), so every version of the bank shares them. ``fetch`` gives one to a user
who may see an item that refers to it (decision 0032):

- an author or an operator: any bank's image (they see every bank's items);
- a learner: only an image an item on one of their own papers refers to (stem, options,
  prompts or explanation — the explanation is shown only in the review the rules allow,
  and its image's hash is in no page before that).

Anyone else, or an image no visible item refers to, gets None: the caller answers 404, so
whether an image exists is not told to those who may not see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.store.tables import Attempt, BankItem, BankMedia, BankVersion, ExamVersion, Paper
from examengine.assembly import Paper as PaperRecord
from itembank.media import Media

#: Roles that see every bank's items.
STAFF_ROLES = frozenset({"author", "operator"})

_PAPER_DECODER = msgspec.json.Decoder(PaperRecord)


class MediaFile(Struct, frozen=True, kw_only=True):
    sha256: str
    mime: str
    data: bytes


def store(session: Session, *, bank_id: int, version_id: int | None, media: Sequence[Media]) -> int:
    """Store the images the bank does not hold yet; how many were new."""
    if not media:
        return 0
    hashes = {m.sha256 for m in media}
    held = set(
        session.exec(
            select(BankMedia.sha256).where(
                BankMedia.bank_id == bank_id, col(BankMedia.sha256).in_(hashes)
            )
        ).all()
    )
    new = [m for m in media if m.sha256 not in held]
    for m in new:
        session.add(
            BankMedia(
                bank_id=bank_id,
                sha256=m.sha256,
                bank_version_id=version_id,
                mime=m.mime,
                name=m.name[:255],
                size=len(m.data),
                data=m.data,
            )
        )
    session.flush()
    return len(new)


def load(session: Session, *, bank_id: int, hashes: Iterable[str]) -> dict[str, Media]:
    """The bank's images with these hashes (by hash), for an export to write."""
    wanted = set(hashes)
    if not wanted:
        return {}
    rows = session.exec(
        select(BankMedia).where(BankMedia.bank_id == bank_id, col(BankMedia.sha256).in_(wanted))
    ).all()
    return {
        row.sha256: Media(sha256=row.sha256, mime=row.mime, name=row.name, data=row.data)
        for row in rows
    }


def fetch(session: Session, *, sha256: str, user_id: int, roles: Iterable[str]) -> MediaFile | None:
    """The image with this hash if this user may see it, else None."""
    rows = session.exec(select(BankMedia).where(BankMedia.sha256 == sha256)).all()
    if not rows:
        return None
    if STAFF_ROLES & set(roles):
        return _file(rows[0])
    if "learner" not in roles:
        return None
    by_bank = {row.bank_id: row for row in rows}
    papers = session.execute(
        sa.select(col(Paper.content), col(ExamVersion.bank_version_id), col(BankVersion.bank_id))
        .select_from(Attempt)
        .join(Paper, col(Paper.id) == col(Attempt.paper_id))
        .join(ExamVersion, col(ExamVersion.id) == col(Attempt.exam_version_id))
        .join(BankVersion, col(BankVersion.id) == col(ExamVersion.bank_version_id))
        .where(col(Attempt.learner_id) == user_id, col(BankVersion.bank_id).in_(by_bank))
    ).all()
    needle = f"media:{sha256}"
    for content, version_id, bank_id in papers:
        keys = [entry.key for entry in _PAPER_DECODER.decode(content).items]
        found = session.execute(
            sa.select(col(BankItem.id))
            .where(
                col(BankItem.bank_version_id) == version_id,
                col(BankItem.key).in_(keys),
                col(BankItem.data).contains(needle, autoescape=True),
            )
            .limit(1)
        ).first()
        if found is not None:
            return _file(by_bank[bank_id])
    return None


def _file(row: BankMedia) -> MediaFile:
    return MediaFile(sha256=row.sha256, mime=row.mime, data=row.data)
