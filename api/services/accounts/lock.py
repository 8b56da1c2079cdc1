"""The per-account login lock: consecutive failed logins counted per account (or, for an
unknown login, per the text typed), locking the account for a while after too many.

The counters (``LoginLocks``) live in a Litestar store (files by default, Redis when
configured) rather than in the database: a failed login's transaction is rolled back, the
counters expire by themselves, and a peak of wrong passwords costs the database nothing.
See docs/decisions/0006-accounts.md.
"""

from __future__ import annotations

import msgspec
from litestar.stores.base import Store
from msgspec import Struct

from api.services.accounts.error import AccountLockedError
from api.store.tables import User


def lock_key(user: User | None, identifier: str) -> str:
    """The login-lock counter for an attempt: the account's, or, for an unknown login,
    the text's own (so an unknown login locks like a real one and reveals nothing)."""
    if user is not None:
        return f"user:{user.id}"
    return "login:" + "".join(identifier.split()).lower()[:64]


class LockPolicy(Struct, frozen=True, kw_only=True):
    #: Consecutive failed logins that lock an account.
    max_failures: int = 5
    #: Seconds the account stays locked; failures older than this are forgotten too.
    lock_s: int = 15 * 60


class LockState(Struct, frozen=True, kw_only=True):
    failures: int = 0
    locked_until_ms: int = 0


def record_failure(state: LockState, policy: LockPolicy, *, now_ms: int) -> LockState:
    """The state after one more failed login: locked (and the count restarted) when it
    is the ``max_failures``-th in a row."""
    failures = state.failures + 1
    if failures >= policy.max_failures:
        return LockState(failures=0, locked_until_ms=now_ms + policy.lock_s * 1000)
    return LockState(failures=failures, locked_until_ms=state.locked_until_ms)


class LoginLocks:
    """Failed-login counters in a Litestar store, keyed by ``lock_key``.

    Each entry expires ``policy.lock_s`` after the last failure, so a lock lifts and
    old failures are forgotten without a sweeper. Increments are read-then-write, not
    atomic: concurrent failures on one account may count once, which delays a lock by
    a few attempts at most (the per-address rate limit still applies).
    """

    def __init__(self, store: Store, policy: LockPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or LockPolicy()

    async def state(self, key: str) -> LockState:
        raw = await self.store.get(key)
        if raw is None:
            return LockState()
        try:
            return msgspec.json.decode(raw, type=LockState)
        except msgspec.DecodeError:  # written by another version: start again
            return LockState()

    async def check(self, key: str, *, now_ms: int) -> None:
        """Raises ``AccountLockedError`` while ``key`` is locked."""
        state = await self.state(key)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)

    async def failed(self, key: str, *, now_ms: int) -> LockState:
        """Count a failed login; raises ``AccountLockedError`` when this one locks."""
        state = record_failure(await self.state(key), self.policy, now_ms=now_ms)
        await self.store.set(key, msgspec.json.encode(state), expires_in=self.policy.lock_s)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)
        return state

    async def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (a successful login, a password reset)."""
        await self.store.delete(key)
