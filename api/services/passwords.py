"""Password hashing: argon2id hashes (PHC strings, salt and parameters included), their
verification, and whether a stored hash should be upgraded.

The HTTP sign-in (``api.http.auth``), the command line and the demo loader all hash with
this one hasher, so a hash made anywhere verifies everywhere. The password *rules* (length,
what a new password may not be) are ``api.services.accounts``'.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with OWASP's first recommended profile (19 MiB, 2 passes, 1 lane): ~45 ms per
# verify on this project's 2-core machines, against ~210 ms for the library default
# (64 MiB, t=3, p=4), which would take minutes of CPU for one exam room logging in at once.
# Hashes carry their parameters: old ones still verify and are upgraded at login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string, salt included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; never raises on a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the login is unknown, so that both failures take
    the same time."""
    return _hasher.hash("examengine: no such account")
