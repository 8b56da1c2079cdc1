"""What an anti-idle challenge is and when it comes (per plan or exam)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

Millis = Annotated[int, Meta(ge=1_000, le=24 * 3600 * 1000)]


class ChallengeKind(StrEnum):
    #: A quick question drawn from the course's item bank.
    QUESTION = "question"
    #: A verification prompt ("click to continue").
    PROMPT = "prompt"


class OnMiss(StrEnum):
    #: The source rule: the open segment earns no credit and the chapter pauses.
    VOID_AND_PAUSE = "void_and_pause"
    #: Void the open segment but keep playing (gentler, for trial plans).
    VOID = "void"


class ChallengePolicy(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Next challenge at a uniformly random moment in [min, max] after the last one;
    ``window_ms`` to answer it."""

    min_interval_ms: Millis = 5 * 60 * 1000
    max_interval_ms: Millis = 15 * 60 * 1000
    window_ms: Millis = 60 * 1000
    kind: ChallengeKind = ChallengeKind.QUESTION
    on_miss: OnMiss = OnMiss.VOID_AND_PAUSE

    def __post_init__(self) -> None:
        if self.max_interval_ms < self.min_interval_ms:
            raise ValueError("max_interval_ms must not be less than min_interval_ms")
