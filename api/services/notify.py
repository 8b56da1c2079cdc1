"""Notices to account holders (an activation link, a password reset) and the notifiers
that deliver them.

A use case that makes a link returns its ``Notice``; the caller sends it with the app's
``Notifier`` **after** its unit of work has committed, so nobody is sent a link that was
rolled back. The built-in notifier, ``LogNotifier``, writes each notice to the
``examengine.notices`` log — the channel of a platform with no SMS or e-mail provider
yet, whose operator hands the links on (that log holds live links: keep it as private
as the database). An SMS or e-mail provider plugs in behind the same interface:
``EXAMENGINE_NOTIFIER=package.module:factory`` names a callable taking the settings and
returning a ``Notifier`` (none is shipped, and none is faked).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Protocol

from msgspec import Struct

from api.settings import Settings, plug_in

LOG = logging.getLogger("examengine.notices")


class Notice(Struct, frozen=True, kw_only=True):
    """One message to one account holder."""

    kind: Literal["activation", "password_reset"]
    login: str
    name: str
    phone: str | None
    link: str
    expires_ms: int


class Notifier(Protocol):
    """Delivers notices (an SMS or e-mail provider's adapter, or the log)."""

    def send(self, notices: Sequence[Notice]) -> None: ...


class LogNotifier:
    """Each notice as one line of the ``examengine.notices`` log, at WARNING so that it
    is written at every log level."""

    def send(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            LOG.warning(
                "notice %s for %s (%s): %s (valid until %d ms)",
                notice.kind, notice.login, notice.name, notice.link, notice.expires_ms,
            )  # fmt: skip


def link_origin(settings: Settings) -> str:
    """Where links point: the site's first public origin, or the server's own address
    (never a request's Host header, which a client chooses)."""
    if settings.security.public_origins:
        return settings.security.public_origins[0]
    host = settings.server.host
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    return f"http://{host}:{settings.server.port}"


def load_notifier(settings: Settings) -> Notifier:
    """The notifier ``settings.notifier`` names: ``log``, or ``module:factory``."""
    spec = settings.notifier
    if spec == "log":
        return LogNotifier()
    notifier: Notifier = plug_in(spec, "EXAMENGINE_NOTIFIER")(settings)
    return notifier
