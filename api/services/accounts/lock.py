"""The login lock: failed password checks counted per account *and* client address, so
that nobody can lock another person out from elsewhere, and per account from all
addresses together, so that guessing spread over many addresses is capped too.

- **Per account and address**: ``max_failures`` wrong passwords in a row for one account
  from one address pause that account's sign-in *from that address* for ``lock_s``. The
  owner, signing in from their own address, is not affected.
- **Per account, all addresses** (ASVS 2.2.1: at most ~100 failures an hour): after
  ``account_failures`` failures within ``account_window_s``, the account takes sign-ins
  only from addresses it has signed in from successfully before (kept
  ``known_address_s``) until the window ends. Its owner, at a known address, still gets in.

The account's part of every key carries its session generation, so a password change or a
reset (which move it on) starts the counts afresh. An unknown login is counted under the
text typed and locks exactly like a real one, so the lock reveals nothing.

The counters (``LoginLocks``) live in a Litestar store (files by default, Redis when
configured) rather than in the database: a failed login's transaction is rolled back, the
counters expire by themselves, and a peak of wrong passwords costs the database nothing.
See docs/decisions/0006-accounts.md and 0014-sessions-and-authentication.md.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar.stores.base import Store
from msgspec import Struct

from api.services.accounts.error import AccountLockedError
from api.store.tables import User

T = TypeVar("T")


class LockKeys(Struct, frozen=True, kw_only=True):
    """Who is trying: the account (its id and session generation, or the unknown login's
    text) and the client address."""

    account: str
    address: str

    @property
    def pair(self) -> str:
        return f"{self.account}|{self.address}"

    @property
    def known(self) -> str:
        # Without the generation: an address stays known across password changes.
        return f"known:{self.account.split(':g', 1)[0]}|{self.address}"


def lock_keys(user: User | None, identifier: str, address: str) -> LockKeys:
    """The lock counters for a password check by ``address``: the account's (with its
    session generation), or, for an unknown login, the text's own."""
    if user is not None:
        account = f"user:{user.id}:g{user.session_generation or 0}"
    else:
        account = "login:" + "".join(identifier.split()).lower()[:64]
    return LockKeys(account=account, address=address or "unknown")


class LockPolicy(Struct, frozen=True, kw_only=True):
    #: Consecutive failures for one account from one address that pause it there.
    max_failures: int = 5
    #: Seconds such a pause lasts; failures older than this are forgotten too.
    lock_s: int = 15 * 60
    #: Failures for one account from all addresses within ``account_window_s`` after
    #: which only known addresses may try (ASVS 2.2.1: no more than 100 an hour).
    account_failures: int = 100
    account_window_s: int = 3600
    #: Seconds an address that signed in successfully stays known to the account.
    known_address_s: int = 30 * 86_400


class LockState(Struct, frozen=True, kw_only=True):
    failures: int = 0
    locked_until_ms: int = 0


class AccountWindow(Struct, frozen=True, kw_only=True):
    failures: int = 0
    since_ms: int = 0


def record_failure(state: LockState, policy: LockPolicy, *, now_ms: int) -> LockState:
    """The state after one more failure from one address: locked (and the count
    restarted) when it is the ``max_failures``-th in a row."""
    failures = state.failures + 1
    if failures >= policy.max_failures:
        return LockState(failures=0, locked_until_ms=now_ms + policy.lock_s * 1000)
    return LockState(failures=failures, locked_until_ms=state.locked_until_ms)


def record_account_failure(
    window: AccountWindow, policy: LockPolicy, *, now_ms: int
) -> AccountWindow:
    """The account-wide count after one more failure: a new window once the last ended."""
    if window.failures == 0 or now_ms - window.since_ms >= policy.account_window_s * 1000:
        return AccountWindow(failures=1, since_ms=now_ms)
    return AccountWindow(failures=window.failures + 1, since_ms=window.since_ms)


def closed_until_ms(window: AccountWindow, policy: LockPolicy, *, now_ms: int) -> int | None:
    """When the account takes unknown addresses again, or None when it takes them now."""
    until = window.since_ms + policy.account_window_s * 1000
    if window.failures >= policy.account_failures and until > now_ms:
        return until
    return None


class LoginLocks:
    """The lock counters in a Litestar store, keyed by ``LockKeys``.

    Entries expire by themselves (a pause after ``lock_s``, the account's window after
    ``account_window_s``), so locks lift without a sweeper. Increments are read-then-
    write, not atomic: concurrent failures may count once, which delays a lock by a few
    attempts at most (the per-address rate limit still applies).
    """

    def __init__(self, store: Store, policy: LockPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or LockPolicy()

    async def _read(self, key: str, kind: type[T], default: T) -> T:
        raw = await self.store.get(key)
        if raw is None:
            return default
        try:
            return msgspec.json.decode(raw, type=kind)
        except msgspec.DecodeError:  # written by another version: start again
            return default

    async def state(self, who: LockKeys) -> LockState:
        return await self._read(who.pair, LockState, LockState())

    async def check(self, who: LockKeys, *, now_ms: int) -> None:
        """Raises ``AccountLockedError`` while ``who`` may not try: paused for this
        address, or the account closed to addresses it does not know."""
        state = await self.state(who)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)
        window = await self._read(who.account, AccountWindow, AccountWindow())
        until = closed_until_ms(window, self.policy, now_ms=now_ms)
        if until is not None and await self.store.get(who.known) is None:
            raise AccountLockedError(locked_until_ms=until, now_ms=now_ms, everywhere=True)

    async def failed(self, who: LockKeys, *, now_ms: int) -> LockState:
        """Count a failure; raises ``AccountLockedError`` when this one pauses ``who``."""
        policy = self.policy
        window = record_account_failure(
            await self._read(who.account, AccountWindow, AccountWindow()), policy, now_ms=now_ms
        )
        await self.store.set(
            who.account, msgspec.json.encode(window), expires_in=policy.account_window_s
        )
        state = record_failure(await self.state(who), policy, now_ms=now_ms)
        await self.store.set(who.pair, msgspec.json.encode(state), expires_in=policy.lock_s)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)
        return state

    async def succeeded(self, who: LockKeys) -> None:
        """A right password: forget ``who``'s failures and remember the address."""
        await self.store.delete(who.pair)
        await self.store.set(who.known, b"1", expires_in=self.policy.known_address_s)
