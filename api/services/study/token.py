"""Study tokens: ``worker.slot.serial.learner`` signed with the service's secret (HMAC
SHA-256), made by ``LiveStudy`` and opened by it and by the relay; and login tags, which
bind a study session to the sign-in that began it (decision 0022).
"""

from __future__ import annotations

import hashlib
import hmac

from api.services.study._shared import _error


def _make_token(worker: str, slot: int, serial: int, learner: int, secret: bytes) -> str:
    body = f"{worker}.{slot}.{serial}.{learner}"
    return f"{body}.{_signature(body, secret)}"


def _signature(body: str, secret: bytes) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def login_tag(session_id: str, secret: bytes) -> str:
    """The tag of a sign-in: an HMAC of its session id (the session cookie's value), so
    neither memory nor Redis holds a usable session id. "" for no session id."""
    if not session_id:
        return ""
    return hmac.new(secret, b"login:" + session_id.encode(), hashlib.sha256).hexdigest()[:32]


def open_token(token: str, secret: bytes) -> tuple[str, int, int, int]:
    """(worker, slot, serial, learner) of a token we signed; ``StudyError bad_token``
    otherwise."""
    parts = token.split(".")
    if len(parts) == 5 and parts[0].isalnum() and all(p.isdigit() for p in parts[1:4]):
        body = ".".join(parts[:4])
        if hmac.compare_digest(parts[4], _signature(body, secret)):
            return parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    raise _error("bad_token", "the study token is not valid", "学习凭证无效")


def _slot_of(token: str) -> int:
    parts = token.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
