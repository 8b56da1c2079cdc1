"""Ed25519 signatures over canonical bytes: what certificates, integrity-log checkpoints
and evidence bundles are signed with (docs/decisions/0027).

A key is named by its id, ``ed25519:`` and the first 16 hex digits of the SHA-256 of the
raw public key, so a record names the key that signed it and a verifier picks it from
the published set (``/.well-known/examengine-keys.json``, a JSON Web Key Set, RFC 8037).
The private key is derived from a secret string, so it is kept like the other secrets.

Pure: no files, no clock. ``canonical`` is the one byte form of anything signed or
hashed: JSON, keys sorted, no spaces, UTF-8.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
#: Domain of the seed derivation: another use of the same secret yields another key.
_SEED_DOMAIN = b"examengine signing key v1\x00"


def canonical(value: Any) -> bytes:
    """``value`` as canonical JSON: keys sorted, no whitespace, UTF-8."""
    return msgspec.json.encode(value, order="sorted")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url without padding; ``ValueError`` when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base64url: {text[:20]!r}") from exc


def key_id(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class VerifyKey:
    kid: str
    public: Ed25519PublicKey

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyKey:
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return cls(key_id(raw), Ed25519PublicKey.from_public_bytes(raw))

    @property
    def raw(self) -> bytes:
        return self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def verifies(self, data: bytes, signature: str) -> bool:
        try:
            self.public.verify(unb64url(signature), data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": ALGORITHM,
            "x": b64url(self.raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    verify_key: VerifyKey

    @classmethod
    def from_secret(cls, secret: str) -> SigningKey:
        """The key seeded by ``secret`` (SHA-256 of a domain tag and the secret)."""
        if not secret:
            raise ValueError("no signing secret: set EXAMENGINE_SIGNING_SECRET")
        seed = hashlib.sha256(_SEED_DOMAIN + secret.encode()).digest()
        private = Ed25519PrivateKey.from_private_bytes(seed)
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(private, VerifyKey.from_raw(raw))

    @property
    def kid(self) -> str:
        return self.verify_key.kid

    def sign(self, data: bytes) -> str:
        return b64url(self.private.sign(data))


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """A signature and the key that made it."""

    kid: str
    sig: str


def sign(key: SigningKey, value: Any) -> Signed:
    """Sign ``canonical(value)``."""
    return Signed(kid=key.kid, sig=key.sign(canonical(value)))


def check(keys: Mapping[str, VerifyKey], value: Any, signed: Signed) -> str | None:
    """None when ``signed`` is a good signature of ``canonical(value)`` by a key in
    ``keys``; otherwise what is wrong, in words."""
    key = keys.get(signed.kid)
    if key is None:
        return f"signed by key {signed.kid}, which is not among the trusted keys"
    if not key.verifies(canonical(value), signed.sig):
        return f"the signature by {signed.kid} does not match the signed content"
    return None


def key_set(keys: Iterable[VerifyKey]) -> dict[str, list[dict[str, str]]]:
    """A JSON Web Key Set of ``keys``."""
    return {"keys": [key.jwk() for key in keys]}


def keys_of(document: Mapping[str, Any]) -> dict[str, VerifyKey]:
    """The Ed25519 keys of a JSON Web Key Set (``ValueError`` when malformed); the ids
    are recomputed from the keys, never taken on trust."""
    found: dict[str, VerifyKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a key set has a list named keys")
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("crv") != ALGORITHM:
            continue
        key = VerifyKey.from_raw(unb64url(str(entry.get("x", ""))))
        found[key.kid] = key
    return found
