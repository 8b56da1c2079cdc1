"""Ending an account's login sessions: the session generation.

``user.session_generation`` (the database's record) moves on when the password changes,
when staff reset it and when the account's roles change (``end_sessions``). A login
session carries the generation it was opened under, and a session older than the
account's current one is over. So that checking costs no database round trip on every
request, the generation is mirrored into a Litestar store (``SessionGenerations``: Redis
when configured, shared by every worker, else files): only accounts whose generation
ever moved have an entry, and an account without one has no ended sessions.
See docs/decisions/0014-sessions-and-authentication.md.
"""

from __future__ import annotations

from litestar.stores.base import Store

from api.store.tables import User


def end_sessions(user: User) -> int:
    """Move ``user``'s session generation on (in the caller's unit of work), ending every
    session opened before; returns the new generation, for ``SessionGenerations.moved``
    once the unit of work has committed."""
    user.session_generation = (user.session_generation or 0) + 1
    return user.session_generation


class SessionGenerations:
    """The current session generation of the accounts whose generation moved, in a store.

    Entries never expire: a session lives on while it is used (each answer renews it),
    so no age is old enough to forget that older sessions are over.

    ``cache`` (a dict, shared by the app's instances) keeps what was read, for a store
    that only this process writes — the file store of the one-process default, where a
    read costs a trip to a worker thread and the disk (~0.1 ms). With Redis, shared by
    many workers, every check reads the store (one GET, ~0.1 ms, no thread).
    """

    #: Accounts a cache remembers before it starts again (bounds its memory).
    CACHE_LIMIT = 200_000

    def __init__(self, store: Store, cache: dict[int, int | None] | None = None) -> None:
        self.store = store
        self.cache = cache

    async def current(self, user_id: int) -> int | None:
        """The generation of ``user_id``'s sessions that are still good; None when it
        never moved (every session of the account is good)."""
        if self.cache is not None and user_id in self.cache:
            return self.cache[user_id]
        raw = await self.store.get(str(user_id))
        generation = _generation(raw)
        self._remember(user_id, generation)
        return generation

    async def moved(self, user_id: int, generation: int) -> None:
        """Record that ``user_id``'s sessions older than ``generation`` are over."""
        await self.store.set(str(user_id), str(generation).encode())
        self._remember(user_id, generation)

    def _remember(self, user_id: int, generation: int | None) -> None:
        if self.cache is None:
            return
        if len(self.cache) >= self.CACHE_LIMIT:
            self.cache.clear()
        self.cache[user_id] = generation


def _generation(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:  # not written by this code: treat as moved past everything
        return 2**62
