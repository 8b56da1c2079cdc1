"""The signing key of this deployment and the keys it publishes (docs/decisions/0027).

The private key is derived from ``EXAMENGINE_SIGNING_SECRET`` (``examengine.signing``);
the published set is that key and every retired one still listed, so a record signed
before a key change keeps verifying.
"""

from __future__ import annotations

import functools

from api.settings import RecordsSettings
from examengine import signing


@functools.lru_cache(maxsize=4)
def signing_key(secret: str) -> signing.SigningKey:
    return signing.SigningKey.from_secret(secret)


def current(settings: RecordsSettings) -> signing.SigningKey:
    """The key that signs from now on."""
    return signing_key(settings.signing_secret)


def published(settings: RecordsSettings) -> dict[str, signing.VerifyKey]:
    """Every key a record of this deployment may be signed with, by key id."""
    keys = {current(settings).kid: current(settings).verify_key}
    for raw in settings.retired_keys:
        key = signing.VerifyKey.from_raw(signing.unb64url(raw))
        keys.setdefault(key.kid, key)
    return keys


def key_set(settings: RecordsSettings) -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set served at ``/.well-known/examengine-keys.json``."""
    return signing.key_set(published(settings).values())
