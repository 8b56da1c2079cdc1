"""Cross-site request forgery: what keeps another site's page from acting with a signed-in
user's cookie (docs/decisions/0015-csrf.md).

Three layers, each a middleware on every unsafe request (POST, PUT, PATCH, DELETE):

- ``SameSiteOnly``: the request must come from this site. ``Sec-Fetch-Site`` when the
  browser sends it (``same-origin`` or ``none`` only), else ``Origin``, else ``Referer``,
  compared with the public origins (``Settings.security.public_origins``) or the
  request's own ``Host``. A request with none of the three is not from a browser page
  (a command-line client, a load generator) and goes on. Refused: 403
  ``cross_site_request``.
- JSON bodies must say so: a route that reads a JSON body answers 415
  ``json_required`` to a body of any other ``Content-Type`` (a page on another site can
  send ``text/plain`` or a form without asking, but not ``application/json``); an empty
  body (an optional one left out) needs no type.
- ``FormCsrf``: Litestar's own CSRF protection (``CSRFConfig``, a double-submit token:
  the ``csrftoken`` cookie and the ``x-csrftoken`` header, which the pages' script sends)
  for the requests a cross-site HTML form could send — form, multipart and ``text/plain``
  bodies — and for setting the cookie on the pages' GETs. Refused: 403
  ``csrf_token_invalid``. Other requests (JSON, no body) are left to the two layers
  above: a form cannot send them, and a script on another site cannot send them without
  Origin and Sec-Fetch-Site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Headers
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import BodyKwarg
from litestar.types import ASGIApp, Receive, Scope, Send

from api.http.errors import ApiError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Bodies a page on another site can send without the browser asking first (CORS
#: "simple" requests): the ones that need the token.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


class CrossSiteRequest(ApiError):
    status = 403
    code = "cross_site_request"
    detail = (
        "Refused: this request came from another site (the Origin, Sec-Fetch-Site or "
        "Referer header names a site other than this one)."
    )
    detail_zh = (
        "已拒绝：该请求来自其他网站（Origin、Sec-Fetch-Site 或 Referer 请求头表明来源不是本站）。"
    )


class JsonRequired(ApiError):
    status = 415
    code = "json_required"
    detail = "This request takes a JSON body: send it with Content-Type: application/json."
    detail_zh = "该请求的内容须为 JSON：请使用 Content-Type: application/json 发送。"


class CsrfTokenInvalid(ApiError):
    status = 403
    code = "csrf_token_invalid"
    detail = (
        "Refused: the form's security token (the x-csrftoken header, matching the csrftoken "
        "cookie) is missing or wrong. Reload the page and try again."
    )
    detail_zh = (
        "已拒绝：表单安全令牌（x-csrftoken 请求头，须与 csrftoken Cookie 一致）缺失或错误。"
        "请刷新页面后重试。"
    )


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` in lower case, or None when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_site(headers: Headers, *, origins: frozenset[str]) -> bool:
    """Whether a request with ``headers`` comes from this site (see the module doc)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() in {"same-origin", "none"}
    sent = headers.get("origin") or headers.get("referer")
    if sent is None:
        return True  # not a browser page: nothing another site could have made it send
    origin = origin_of(sent)
    if origin is None:  # "null" (a sandboxed or file page), or garbage
        return False
    host = headers.get("host", "").lower()
    return origin in origins or (bool(host) and origin.split("://", 1)[1] == host)


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _has_body(headers: Headers) -> bool:
    """Whether the request sends a body (an empty one may go without a type: an
    optional body left out)."""
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def _takes_json(scope: Scope) -> bool:
    """Whether the route reads a JSON body (a ``data`` parameter that is not a form)."""
    handler: Any = scope.get("route_handler")
    field = getattr(handler, "parsed_data_field", None)
    if field is None:
        return False
    kwarg = field.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return media_type == RequestEncodingType.JSON


class SameSiteOnly:
    """Middleware: unsafe requests from this site only, and JSON bodies as JSON."""

    def __init__(self, app: ASGIApp, *, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] in UNSAFE_METHODS:
            headers = Headers.from_scope(scope)
            if not same_site(headers, origins=self.origins):
                raise CrossSiteRequest
            if (
                _takes_json(scope)
                and _has_body(headers)
                and _media_type(headers) != "application/json"
            ):
                raise JsonRequired
        await self.app(scope, receive, send)


class FormCsrf(CSRFMiddleware):
    """Litestar's CSRF middleware for the requests a cross-site form could send (and
    the cookie on safe requests); JSON requests pass to the next layer untouched."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] in UNSAFE_METHODS:
            headers = Headers.from_scope(scope)
            if _media_type(headers) not in FORM_TYPES:
                await self.app(scope, receive, send)
                return
            if not headers.get(self.config.header_name):
                # The pages send the header; refusing without it spares reading (and
                # buffering) a form body only to look for a ``_csrf_token`` field in it.
                raise CsrfTokenInvalid
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as exc:
            if exc.detail == "CSRF token verification failed":
                raise CsrfTokenInvalid from None
            raise


def csrf_config(*, secret: str, secure: bool) -> CSRFConfig:
    """Litestar's CSRF settings: the ``csrftoken`` cookie (readable by the pages' script,
    SameSite=Lax, Secure in production) and the ``x-csrftoken`` header."""
    return CSRFConfig(
        secret=secret, cookie_name="csrftoken", header_name="x-csrftoken",
        cookie_secure=secure, cookie_httponly=False, cookie_samesite="lax",
    )  # fmt: skip


def default_origins(host: str, port: int) -> tuple[str, ...]:
    """The public origins of a server that was given none: itself at ``host:port``, and
    the loopback names when it listens on loopback or on every address."""
    names = {host}
    if host in {"127.0.0.1", "0.0.0.0", "localhost", "::1", "::"}:
        names |= {"127.0.0.1", "localhost"}
    return tuple(sorted(f"http://{name}:{port}" for name in names if ":" not in name))
