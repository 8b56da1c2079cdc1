"""Risk flags: reasons for a person to look at an attempt or a study cycle, never a
verdict (docs/decisions/0030).

A ``Flag`` names its rule, the threshold it was held against (from ``RiskPolicy``), the
value observed and the evidence rows behind it (times, events, items, answers), so
whoever reads it can check it against the record and decide. The rules:

Per study cycle (a learner's ``StudyMark`` rows of one cycle, every chapter):

- ``missed_challenges``: anti-idle challenges missed, at least ``missed_challenges``;
- ``study_takeovers``: the chapter being studied opened again elsewhere (another tab or
  device took the session over), at least ``study_takeovers`` times. Moving on to
  another chapter also ends a session; that is how study goes and is not counted.

Per attempt (its ``AttemptRecord``):

- ``focus_loss``: the exam window lost focus or left full screen, at least
  ``focus_losses`` times;
- ``copy_paste``: text copied or pasted, at least ``copy_paste`` times;
- ``takeover``: another device took the attempt over, at least ``takeovers`` times;
- ``fast_answers``: a run of at least ``fast_run`` items answered faster than they can
  be read (``fast_runs``);
- ``similar_answers``: the same wrong answers as another learner of the same employer
  at the same exam (``similarity``, ``similar_pairs``).

**The similarity index** of two graded formal attempts: take the items *both* learners
were given and *both* answered wrongly (answered, not full marks), leaving out items
where every wrong answer is the same one (true/false: there is only one wrong answer, so
agreeing on it says nothing); the index is the share of those items where the two wrong
answers are identical. Right answers never count — two learners who both know the
material agree on right answers. Wrong answers spread over the distractors, so two
people who work alone seldom share most of theirs; a high share over enough items
(at least ``similarity_items``) is a reason to look at the pair. Blank answers do not
count either.

Pure: the shell (``api.services.risk``) loads the rows and passes them in with the
policy; nothing here reads a database, a file or a clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from msgspec import Meta, Struct

from itembank.model import Item, Matching, MultipleChoice, SingleChoice, normalize_text

Rule = Literal[
    "missed_challenges",
    "study_takeovers",
    "focus_loss",
    "copy_paste",
    "takeover",
    "fast_answers",
    "similar_answers",
]
#: Every rule, in the order pages and exports list them.
RULES: tuple[Rule, ...] = (
    "missed_challenges",
    "study_takeovers",
    "focus_loss",
    "copy_paste",
    "takeover",
    "fast_answers",
    "similar_answers",
)
ATTEMPT_RULES: tuple[Rule, ...] = RULES[2:]
STUDY_RULES: tuple[Rule, ...] = RULES[:2]

#: What an attempt's marks may be: the exam page's integrity reports, and the core's
#: events that matter here (a take-over; the paper shown again on a resume).
FOCUS_KINDS = frozenset({"focus_lost", "fullscreen_exit"})
COPY_KINDS = frozenset({"copy", "paste"})
TAKEOVER_KIND = "device_taken_over"
SHOWN_KINDS = frozenset({"attempt_resumed", TAKEOVER_KIND})
#: Item kinds with a single possible wrong answer: agreeing on it is no evidence.
SINGLE_WRONG_KINDS = frozenset({"true_false"})

Count = Annotated[int, Meta(ge=1)]
Ms = Annotated[int, Meta(ge=0)]


class RiskPolicy(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The thresholds. A flag is raised at the threshold (``observed >= threshold``).

    Reading speed: people read Chinese at 300–700 characters a minute (85–200 ms a
    character); ``reading_ms_per_char`` = 40 ms is 1,500 a minute, about twice the
    fastest, and ``reading_base_ms`` gives 2 s to choose and click. An item answered
    sooner than ``reading_base_ms + chars × reading_ms_per_char`` after the previous
    answer was answered before it could be read; one such item is a familiar question,
    ``fast_run`` in a row is a pattern.
    """

    #: Missed anti-idle challenges in one study cycle.
    missed_challenges: Count = 3
    #: The chapter being studied opened again elsewhere, in one study cycle.
    study_takeovers: Count = 5
    #: Focus losses plus full-screen exits in one attempt.
    focus_losses: Count = 5
    #: Copies plus pastes in one attempt.
    copy_paste: Count = 1
    #: Device take-overs of one attempt.
    takeovers: Count = 1
    reading_base_ms: Ms = 2000
    reading_ms_per_char: Ms = 40
    #: Items in a run of answers faster than reading.
    fast_run: Count = 5
    #: The similarity index at or above which a pair is flagged …
    similarity: Annotated[float, Meta(gt=0, le=1)] = 0.8
    #: … over at least this many items both answered wrongly.
    similarity_items: Count = 5
    #: The cost bound: attempts compared in one group (one employer, one exam), the
    #: most recent first; at most n(n-1)/2 pairs.
    similarity_group: Count = 500


# --------------------------------------------------------------------------- inputs


class Mark(Struct, frozen=True, kw_only=True):
    """Something that happened to an attempt: an integrity report (``focus_lost``,
    ``fullscreen_exit``, ``copy``, ``paste``) or a core event (``device_taken_over``,
    ``attempt_resumed``); ``detail`` says more (the devices of a take-over)."""

    kind: str
    at_ms: int
    detail: str = ""


class FirstAnswer(Struct, frozen=True, kw_only=True):
    """An item's first accepted answer: when it was saved, its client sequence number,
    and how long the item's text is (``item_chars``)."""

    item: str
    at_ms: int
    seq: int
    chars: int


class AttemptRecord(Struct, frozen=True, kw_only=True):
    attempt: str
    started_ms: int
    marks: tuple[Mark, ...] = ()
    answers: tuple[FirstAnswer, ...] = ()


class StudyMark(Struct, frozen=True, kw_only=True):
    """A study event of one learner's cycle: ``challenge_missed`` or
    ``session_taken_over`` (``by_chapter``: the chapter whose start ended it)."""

    kind: str
    at_ms: int
    chapter: str
    by_chapter: str = ""
    seq: int | None = None


class GradedAnswer(Struct, frozen=True, kw_only=True):
    """One item of a graded paper: its kind, the learner's answer, full marks or not."""

    item: str
    kind: str
    response: Any = None
    correct: bool = False


class GradedAttempt(Struct, frozen=True, kw_only=True):
    attempt: str
    learner: int
    answers: tuple[GradedAnswer, ...]


# -------------------------------------------------------------------------- outputs

What = Literal[
    "focus_lost",
    "fullscreen_exit",
    "copy",
    "paste",
    "device_taken_over",
    "challenge_missed",
    "session_taken_over",
    "fast_answer",
    "same_wrong_answer",
    "different_wrong_answer",
]


class Evidence(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One row behind a flag.

    - events (``focus_lost`` … ``session_taken_over``): ``at_ms``, the ``chapter`` of a
      study event, ``detail`` (a take-over's devices);
    - ``fast_answer``: the item's first answer at ``at_ms``; ``from_ms`` the previous
      first answer (or the paper shown); ``elapsed_ms`` between them; ``needed_ms`` the
      least reading time of the ``batch`` items saved in that one request (``chars``:
      this item's length);
    - ``same_wrong_answer`` / ``different_wrong_answer``: an item both answered wrongly,
      with this learner's ``response`` and the other's ``other_response`` (JSON).
    """

    what: What
    at_ms: int | None = None
    item: str = ""
    chapter: str = ""
    from_ms: int | None = None
    elapsed_ms: int | None = None
    needed_ms: int | None = None
    chars: int | None = None
    batch: int | None = None
    response: str = ""
    other_response: str = ""
    detail: str = ""


class Flag(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A reason to look: the ``rule``, its ``threshold``, the value ``observed``
    (a count; for ``fast_answers`` the longest run; for ``similar_answers`` the index),
    and the rows behind it. ``similar_answers`` also names the ``other`` attempt and the
    ``basis`` (items both answered wrongly) with its minimum ``basis_min``."""

    rule: Rule
    threshold: float
    observed: float
    evidence: tuple[Evidence, ...] = ()
    other: str = ""
    basis: int | None = None
    basis_min: int | None = None


class Similarity(Struct, frozen=True, kw_only=True):
    """The similarity index of two attempts: ``same`` of ``basis`` items (both answered
    wrongly, where wrong answers can differ) carry the identical wrong answer."""

    attempt: str
    other: str
    same: int
    basis: int
    evidence: tuple[Evidence, ...] = ()

    @property
    def index(self) -> float:
        return self.same / self.basis if self.basis else 0.0


# ----------------------------------------------------------------- counting rules


class Check(Struct, frozen=True, kw_only=True):
    """One rule held against an attempt or a study cycle, flagged or not: what an
    auditor reads to see that a rule was checked and how far from its threshold."""

    rule: Rule
    threshold: float
    observed: float
    flagged: bool


class _Outcome(Struct, frozen=True, kw_only=True):
    rule: Rule
    threshold: int
    observed: int
    evidence: tuple[Evidence, ...]

    @property
    def flagged(self) -> bool:
        return self.observed >= self.threshold


def _counted(rule: Rule, threshold: int, rows: Sequence[Evidence]) -> _Outcome:
    return _Outcome(rule=rule, threshold=threshold, observed=len(rows), evidence=tuple(rows))


def _event(mark: Mark) -> Evidence:
    what: Any = mark.kind
    return Evidence(what=what, at_ms=mark.at_ms, detail=mark.detail)


def _attempt_outcomes(record: AttemptRecord, policy: RiskPolicy) -> list[_Outcome]:
    marks = sorted(record.marks, key=lambda m: m.at_ms)
    runs = fast_runs(record, policy)
    flagged_runs = [run for run in runs if len(run) >= policy.fast_run]
    return [
        _counted("focus_loss", policy.focus_losses,
                 [_event(m) for m in marks if m.kind in FOCUS_KINDS]),
        _counted("copy_paste", policy.copy_paste,
                 [_event(m) for m in marks if m.kind in COPY_KINDS]),
        _counted("takeover", policy.takeovers,
                 [_event(m) for m in marks if m.kind == TAKEOVER_KIND]),
        _Outcome(rule="fast_answers", threshold=policy.fast_run,
                 observed=max((len(run) for run in runs), default=0),
                 evidence=tuple(row for run in flagged_runs for row in run)),
    ]  # fmt: skip


def _study_outcomes(marks: Iterable[StudyMark], policy: RiskPolicy) -> list[_Outcome]:
    ordered = sorted(marks, key=lambda m: m.at_ms)
    missed = [
        Evidence(what="challenge_missed", at_ms=m.at_ms, chapter=m.chapter)
        for m in ordered
        if m.kind == "challenge_missed"
    ]
    # Starting another chapter ends the open session too: only the same chapter opened
    # again elsewhere counts.
    taken = [
        Evidence(what="session_taken_over", at_ms=m.at_ms, chapter=m.chapter)
        for m in ordered
        if m.kind == "session_taken_over" and m.by_chapter == m.chapter
    ]
    return [
        _counted("missed_challenges", policy.missed_challenges, missed),
        _counted("study_takeovers", policy.study_takeovers, taken),
    ]


def _flags(outcomes: Iterable[_Outcome]) -> tuple[Flag, ...]:
    return tuple(
        Flag(rule=o.rule, threshold=o.threshold, observed=o.observed, evidence=o.evidence)
        for o in outcomes
        if o.flagged
    )


def _checks(outcomes: Iterable[_Outcome]) -> tuple[Check, ...]:
    return tuple(
        Check(rule=o.rule, threshold=o.threshold, observed=o.observed, flagged=o.flagged)
        for o in outcomes
    )


def attempt_flags(record: AttemptRecord, policy: RiskPolicy) -> tuple[Flag, ...]:
    """The flags of one attempt by its own record, in ``RULES`` order
    (``similar_answers`` compares two attempts: ``similar_pairs``)."""
    return _flags(_attempt_outcomes(record, policy))


def attempt_checks(
    record: AttemptRecord,
    policy: RiskPolicy,
    compared: Sequence[Similarity] | None = None,
) -> tuple[Check, ...]:
    """Every attempt rule held against ``record``, flagged or not. With ``compared``
    (its similarity to each attempt it was compared with; None: not compared, e.g. not
    graded yet) ``similar_answers`` observes the highest index over at least
    ``similarity_items`` items."""
    checks = _checks(_attempt_outcomes(record, policy))
    if compared is None:
        return checks
    enough = [p.index for p in compared if p.basis >= policy.similarity_items]
    similar = Check(
        rule="similar_answers",
        threshold=policy.similarity,
        observed=round(max(enough, default=0.0), 4),
        flagged=any(reaches(p, policy) for p in compared),
    )
    return (*checks, similar)


def study_flags(marks: Iterable[StudyMark], policy: RiskPolicy) -> tuple[Flag, ...]:
    """The flags of one learner's study cycle, from its study events (every chapter)."""
    return _flags(_study_outcomes(marks, policy))


def study_checks(marks: Iterable[StudyMark], policy: RiskPolicy) -> tuple[Check, ...]:
    """Every study rule held against one learner's cycle, flagged or not."""
    return _checks(_study_outcomes(marks, policy))


# ------------------------------------------------------------------ reading speed


def item_chars(item: Item) -> int:
    """How many characters an item shows: the stem, the options, a matching item's
    prompts and answers (white space not counted)."""
    parts = [item.stem]
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        parts += [option.text for option in body.options]
    elif isinstance(body, Matching):
        parts += [pair.prompt for pair in body.pairs]
        parts += [pair.answer for pair in body.pairs]
        parts += list(body.distractors)
    return sum(len("".join(part.split())) for part in parts)


def reading_ms(chars: int, policy: RiskPolicy) -> int:
    """The least time to read an item of ``chars`` characters and answer it."""
    return policy.reading_base_ms + chars * policy.reading_ms_per_char


def fast_runs(record: AttemptRecord, policy: RiskPolicy) -> list[list[Evidence]]:
    """Every run of consecutive first answers saved faster than they can be read, as
    evidence rows (one per item, in the order they were saved).

    First answers are taken in the order they were saved. Items saved in one request
    (the same ``at_ms``: a batch sent after a network break) are judged together: the
    time since the previous first answer — or since the paper was last shown (the
    start, a resume, a take-over), whichever is later — must cover reading all of them.
    Later changes of an answer move nothing: revising is not reading a new item."""
    shown = sorted([record.started_ms, *(m.at_ms for m in record.marks if m.kind in SHOWN_KINDS)])
    batches: dict[int, list[FirstAnswer]] = defaultdict(list)
    for answer in sorted(record.answers, key=lambda a: (a.at_ms, a.seq)):
        batches[answer.at_ms].append(answer)
    runs: list[list[Evidence]] = []
    current: list[Evidence] = []
    previous = record.started_ms
    for at, batch in sorted(batches.items()):
        anchor = max([previous, *(s for s in shown if s <= at)])
        elapsed = at - anchor
        needed = sum(reading_ms(a.chars, policy) for a in batch)
        if elapsed < needed:
            current += [
                Evidence(
                    what="fast_answer",
                    at_ms=at,
                    item=a.item,
                    from_ms=anchor,
                    elapsed_ms=elapsed,
                    needed_ms=needed,
                    chars=a.chars,
                    batch=len(batch),
                )
                for a in batch
            ]
        elif current:
            runs.append(current)
            current = []
        previous = at
    if current:
        runs.append(current)
    return runs


# ------------------------------------------------------------------- similarity


def canonical(kind: str, response: Any) -> str | None:
    """A response as compared between learners (JSON text), None when unanswered:
    typed text normalised as scoring does (full-width folded, spaces, case), a
    multiple choice as a sorted set, a number as a number."""
    if response is None or response in ("", []):
        return None
    value: Any = response
    if kind == "multiple" and isinstance(response, list):
        value = sorted({str(r) for r in response})
    elif kind == "fill_blank" and isinstance(response, str):
        value = normalize_text(response)
    elif kind == "numerical":
        try:
            value = float(normalize_text(str(response)).replace(",", "").replace(" ", ""))
        except ValueError:
            value = normalize_text(str(response))
    elif kind == "matching" and isinstance(response, list):
        if all(r in ("", None) for r in response):
            return None
        value = [normalize_text(str(r)) if r is not None else "" for r in response]
    if value in ("", []):
        return None
    return msgspec.json.encode(value).decode()


def wrong_answers(graded: GradedAttempt) -> dict[str, str]:
    """Item → canonical wrong answer, for the items answered wrongly whose wrong answers
    can differ (not blank, not full marks, not true/false)."""
    out: dict[str, str] = {}
    for answer in graded.answers:
        if answer.correct or answer.kind in SINGLE_WRONG_KINDS:
            continue
        text = canonical(answer.kind, answer.response)
        if text is not None:
            out[answer.item] = text
    return out


def similarity(a: GradedAttempt, b: GradedAttempt) -> Similarity:
    """The similarity index of ``a`` and ``b`` with one evidence row per item both
    answered wrongly (identical or not), in item order."""
    mine, theirs = wrong_answers(a), wrong_answers(b)
    both = sorted(mine.keys() & theirs.keys())
    rows = tuple(
        Evidence(
            what="same_wrong_answer" if mine[item] == theirs[item] else "different_wrong_answer",
            item=item,
            response=mine[item],
            other_response=theirs[item],
        )
        for item in both
    )
    same = sum(1 for row in rows if row.what == "same_wrong_answer")
    return Similarity(attempt=a.attempt, other=b.attempt, same=same, basis=len(both), evidence=rows)


def reaches(pair: Similarity, policy: RiskPolicy) -> bool:
    """Whether ``pair`` is flagged: its index at least ``policy.similarity`` over at
    least ``policy.similarity_items`` items both answered wrongly."""
    return (
        pair.basis >= policy.similarity_items and pair.same >= policy.similarity * pair.basis - 1e-9
    )


def similar_pairs(group: Sequence[GradedAttempt], policy: RiskPolicy) -> tuple[Similarity, ...]:
    """The pairs of one group (one employer, one exam) whose index reaches
    ``policy.similarity`` over at least ``policy.similarity_items`` items; two attempts
    of one learner are never a pair.

    Only the first ``policy.similarity_group`` attempts of ``group`` are compared (the
    caller passes the most recent first): at most n(n-1)/2 pairs. The counts of every
    pair are n × n matrices: items both answered wrongly, one product of the n × items
    "wrong on it" matrix; identical wrong answers, for each distinct wrong answer held
    by k attempts, one added to its k × k block — at most items × n² additions, done by
    numpy, never n² Python comparisons. Only the flagged pairs are then explained row
    by row."""
    group = list(group[: policy.similarity_group])
    n = len(group)
    if n < 2:
        return ()
    wrongs = [wrong_answers(g) for g in group]
    columns = {item: c for c, item in enumerate(sorted({i for w in wrongs for i in w}))}
    wrong = np.zeros((n, len(columns)), dtype=np.float32)
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, w in enumerate(wrongs):
        for item, text in w.items():
            wrong[row, columns[item]] = 1
            holders[(item, text)].append(row)
    basis = np.rint(wrong @ wrong.T).astype(np.int64)
    same = np.zeros((n, n), dtype=np.int64)
    for rows in holders.values():
        if len(rows) > 1:
            held = np.array(rows)
            same[np.ix_(held, held)] += 1
    learners = np.array([g.learner for g in group])
    candidate = (
        np.triu(np.ones((n, n), dtype=bool), k=1)
        & (learners[:, None] != learners[None, :])
        & (basis >= policy.similarity_items)
        & (same >= policy.similarity * basis - 1e-9)  # as ``reaches``, for every pair at once
    )
    return tuple(
        similarity(group[i], group[j]) for i, j in zip(*np.nonzero(candidate), strict=True)
    )


def similarity_flag(pair: Similarity, *, of: str, policy: RiskPolicy) -> Flag:
    """``pair``'s flag as attempt ``of`` (one of the two) carries it: the evidence told
    from its side (its answer first)."""
    if of == pair.attempt:
        other, rows = pair.other, pair.evidence
    else:
        other = pair.attempt
        rows = tuple(
            msgspec.structs.replace(r, response=r.other_response, other_response=r.response)
            for r in pair.evidence
        )
    return Flag(
        rule="similar_answers",
        threshold=policy.similarity,
        observed=round(pair.index, 4),
        evidence=rows,
        other=other,
        basis=pair.basis,
        basis_min=policy.similarity_items,
    )


def flags_with_pairs(
    own: Mapping[str, tuple[Flag, ...]], pairs: Iterable[Similarity], policy: RiskPolicy
) -> dict[str, tuple[Flag, ...]]:
    """Each attempt's own flags with its ``similar_answers`` flags added (one per other
    attempt, the highest index first)."""
    extra: dict[str, list[Flag]] = defaultdict(list)
    for pair in pairs:
        for side in (pair.attempt, pair.other):
            extra[side].append(similarity_flag(pair, of=side, policy=policy))
    out = {}
    for attempt in own.keys() | extra.keys():
        similar = sorted(extra.get(attempt, ()), key=lambda f: (-f.observed, f.other))
        out[attempt] = (*own.get(attempt, ()), *similar)
    return out


__all__ = [
    "ATTEMPT_RULES",
    "RULES",
    "STUDY_RULES",
    "AttemptRecord",
    "Check",
    "Evidence",
    "FirstAnswer",
    "Flag",
    "GradedAnswer",
    "GradedAttempt",
    "Mark",
    "RiskPolicy",
    "Rule",
    "Similarity",
    "StudyMark",
    "attempt_checks",
    "attempt_flags",
    "canonical",
    "fast_runs",
    "flags_with_pairs",
    "item_chars",
    "reaches",
    "reading_ms",
    "similar_pairs",
    "similarity",
    "similarity_flag",
    "study_checks",
    "study_flags",
    "wrong_answers",
]
