"""The policy pools: the two in-process challenge schedulers of one challenge policy
(regular challenges, and the check that closes a chapter's last segment), numbered
from a base so a slot number alone names its pool.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import numpy.typing as npt

from examengine.challenges import ChallengePolicy, InProcessScheduler


class _Pool:
    """The schedulers of one challenge policy: ``scheduler`` times the regular
    challenges; ``closing`` (fires one second after arming, the policy's window) the
    check that closes a chapter's last segment. A pool's slots are numbered from
    ``base`` in this process, so a slot number alone names the pool."""

    __slots__ = ("base", "closing", "policy", "scheduler")

    def __init__(
        self,
        policy: ChallengePolicy,
        scheduler: InProcessScheduler,
        closing: InProcessScheduler,
        base: int,
    ):
        self.policy = policy
        self.scheduler = scheduler
        self.closing = closing
        self.base = base

    def slots(self, local: npt.NDArray[np.int64]) -> list[int]:
        """The pool's slots as this process's slot numbers."""
        numbers: list[int] = (local + self.base).tolist()
        return numbers


#: Makes the schedulers of a policy: (regular, closing).
Schedulers = Callable[[ChallengePolicy], tuple[InProcessScheduler, InProcessScheduler]]


def closing_policy(policy: ChallengePolicy) -> ChallengePolicy:
    """The closing check of ``policy``: one second after it is asked for, same window."""
    return msgspec.structs.replace(policy, min_interval_ms=1000, max_interval_ms=1000)
