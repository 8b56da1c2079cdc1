"""The anti-idle challenge scheduler: policy, the contract, and its backends.

``inprocess`` (numpy arrays, one process) is the default; the Redis backend (many API
workers) keeps the same contract in its own module, the one place the core imports a
client library.
"""

from examengine.challenges.contract import Phase, Scheduler, SchedulerFull, TickResult
from examengine.challenges.inprocess import InProcessScheduler
from examengine.challenges.policy import ChallengeKind, ChallengePolicy, OnMiss

__all__ = [
    "ChallengeKind",
    "ChallengePolicy",
    "InProcessScheduler",
    "OnMiss",
    "Phase",
    "Scheduler",
    "SchedulerFull",
    "TickResult",
]
