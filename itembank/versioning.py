"""Bank versions: what changed between two, and a fingerprint of one.

A published version never changes; an edit makes a new version. Versions are compared
item by item through the author key, which formats keep stable (titles, ids, or a key
derived from the stem).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec
from msgspec import Struct

from itembank.model import Item

#: The fields of an item compared by ``diff``, in the order they are reported.
FIELDS = (
    "stem",
    "body",
    "explanation",
    "topic",
    "difficulty",
    "tags",
    "enemy_group",
    "points",
    "status",
)


class ItemChange(Struct, frozen=True, kw_only=True):
    key: str
    fields: tuple[str, ...]


class BankDiff(Struct, frozen=True, kw_only=True):
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ItemChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        """The diff as ``+ key`` / ``- key`` / ``~ key: field, field`` lines."""
        return [
            *(f"+ {k}" for k in self.added),
            *(f"- {k}" for k in self.removed),
            *(f"~ {c.key}: {', '.join(c.fields)}" for c in self.changed),
        ]


def diff(old: Sequence[Item], new: Sequence[Item]) -> BankDiff:
    """What ``new`` adds, removes and changes relative to ``old``, by author key."""
    before = {item.key: item for item in old}
    after = {item.key: item for item in new}
    changed = []
    for key, item in after.items():
        previous = before.get(key)
        if previous is None or previous == item:
            continue
        fields = tuple(f for f in FIELDS if getattr(previous, f) != getattr(item, f))
        changed.append(ItemChange(key=key, fields=fields))
    return BankDiff(
        added=tuple(k for k in after if k not in before),
        removed=tuple(k for k in before if k not in after),
        changed=tuple(changed),
    )


def content_hash(items: Iterable[Item]) -> str:
    """A BLAKE2b fingerprint of the items in order: equal banks have equal hashes."""
    digest = hashlib.blake2b(digest_size=16)
    encoder = msgspec.json.Encoder(order="deterministic")
    for item in items:
        digest.update(encoder.encode(item))
        digest.update(b"\n")
    return digest.hexdigest()
