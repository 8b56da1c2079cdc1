"""Which keys a result may show: the one rule every result a learner receives goes
through (decision 0013).

A key leaves the server only in the result of a *closed* attempt, only when the spec
shows keys for that kind of attempt (``show_key_after_close`` for formal attempts,
``practice.show_key`` for practice), and — for an item that a formal paper of the exam
can hold (the *formal pool*) — only as ``key_release`` allows: ``after_formal`` once the
learner can sit no more formal attempts (``eligibility.formal_ahead``: until they pass),
``unshared_only`` never. Practice papers are drawn from the formal blueprint, so with
the defaults a practice attempt shows no key until the learner has passed the exam.

What is held back is held back whole: an item whose key is withheld is left out of the
review altogether, since its points against the learner's response would tell the key
of a choice item as surely as the key itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from msgspec import Struct

from examengine.blueprint import ExamSpec, KeyRelease, fits
from itembank.model import Item


class Disclosure(Struct, frozen=True, kw_only=True):
    """The items of a paper whose key (and explanation, points, response) may be shown,
    and why the others are held back: ``""`` (none is), ``"open"`` (the attempt is not
    closed), ``"off"`` (the spec shows no key for this kind of attempt), ``"formal_ahead"``
    (a formal paper the learner may still sit can hold them) or ``"shared"`` (a formal
    paper can hold them and the spec never shows such keys)."""

    shown: frozenset[str]
    held: str


def formal_pool(spec: ExamSpec, items: Iterable[Item]) -> frozenset[str]:
    """The keys of the items a formal paper of ``spec`` can hold: every item of its bank
    that fits one of its sections by kind and topic, whatever its status (an item
    retired in this bank version may be active in the next)."""
    return frozenset(
        item.key for item in items if any(fits(item, section) for section in spec.sections)
    )


def disclose(
    *,
    spec: ExamSpec,
    release: KeyRelease,
    practice: bool,
    closed: bool,
    paper: Sequence[str],
    pool: Callable[[], frozenset[str]],
    formal_ahead: Callable[[], bool],
) -> Disclosure:
    """The keys the result of an attempt on ``paper`` (its item keys) may show.

    ``spec`` is the version the attempt was sat under (its switches decide whether keys
    are shown at all); ``release`` and ``pool`` (the formal pool) come from the exam's
    published spec, the one every formal paper ahead is built from; ``formal_ahead``
    says whether the learner may still sit one. ``pool`` and ``formal_ahead`` are asked
    only when the answer depends on them (they cost the caller a read).
    """
    if not closed:
        return Disclosure(shown=frozenset(), held="open")
    if not (spec.practice.show_key if practice else spec.show_key_after_close):
        return Disclosure(shown=frozenset(), held="off")
    if release is KeyRelease.AFTER_FORMAL and not formal_ahead():
        return Disclosure(shown=frozenset(paper), held="")
    shared = pool()
    safe = frozenset(key for key in paper if key not in shared)
    if len(safe) == len(set(paper)):
        return Disclosure(shown=safe, held="")
    held = "formal_ahead" if release is KeyRelease.AFTER_FORMAL else "shared"
    return Disclosure(shown=safe, held=held)
