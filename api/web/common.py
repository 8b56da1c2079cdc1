"""What every browser page shares: the template engine, the language, who is signed in,
and how a page sends the browser elsewhere.

A page handler returns ``render(request, "x.html", **context)``. The base context holds:

- ``lang`` ("zh" or "en"): ``?lang=`` on any page switches it and is remembered in the
  ``lang`` cookie; the default is Chinese.
- ``t(key, **values)``: the message catalogue (``api.web.i18n``) in that language.
- ``principal``: the signed-in ``Principal`` or None.
- ``lang_url``: this page's address with the other language (the switch link).
- ``js_messages(*prefixes)``: catalogue entries as a dict, for a page's JSON data block.

Page guards are not API guards: a page that needs a sign-in raises ``LoginRequired``
(or ``PasswordChangeRequiredPage``), which ``PAGE_EXCEPTION_HANDLERS`` turn into a
redirect to the login (or password) page instead of problem+json. Put
``exception_handlers = PAGE_EXCEPTION_HANDLERS`` on a page controller and call
``page_principal(request, "role", ...)`` at the top of its handlers.

Pages carry a Content-Security-Policy without inline scripts or styles: data for a
script goes in ``<script type="application/json">`` blocks and behaviour in
``/static/js/*.js`` modules.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ExceptionHandlersMap
from msgspec import ValidationError

from api.http.auth import Principal, principal_of
from api.http.errors import NotAuthenticated
from api.http.params import plain_file_path
from api.web import i18n
from examengine.ids import masked

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

#: Times on pages are China Standard Time (UTC+8, no daylight saving).
CST = timezone(timedelta(hours=8), "CST")

LANG_COOKIE = "lang"
#: A year, in seconds.
_LANG_MAX_AGE = 365 * 24 * 3600

#: Where ``/`` sends a signed-in user, by role, first match wins.
ROLE_HOME: dict[str, str] = {
    "learner": "/learner/exams",
    "author": "/author",
    "proctor": "/proctor",
    "operator": "/proctor",
    "employer_admin": "/employer",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja over ``api/web/templates`` (autoescaped), with ``t`` available everywhere."""
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


def static_router() -> Any:
    """``/static``: the stylesheet and the JavaScript modules (no build step)."""
    return create_static_files_router(
        path="/static", directories=[STATIC], name="static", include_in_schema=False,
        guards=[plain_file_path],
    )  # fmt: skip


# ----------------------------------------------------------------------- language


def _lang_value(raw: str | None) -> i18n.Lang | None:
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw.startswith("en"):
        return "en"
    if raw.startswith("zh"):
        return "zh"
    return None


def lang_of(request: Request[Any, Any, Any]) -> i18n.Lang:
    """``?lang=`` first, then the ``lang`` cookie, else Chinese."""
    return (
        _lang_value(request.query_params.get("lang"))
        or _lang_value(request.cookies.get(LANG_COOKIE))
        or i18n.DEFAULT_LANG
    )


def _lang_url(request: Request[Any, Any, Any], lang: str) -> str:
    other = "en" if lang == "zh" else "zh"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", other))
    return quote(request.url.path) + "?" + urlencode(query)


# ---------------------------------------------------------------------- principal


class LoginRequired(Exception):
    """Raised by a page that needs a sign-in: the browser goes to the login page."""

    def __init__(self, next_url: str = "/") -> None:
        self.next_url = next_url
        super().__init__(next_url)


class PasswordChangeRequiredPage(Exception):
    """Raised by a page when the account must change its password first."""


class WrongRolePage(Exception):
    """Raised by a page the signed-in account has no role for: the browser goes home."""


def current_principal(request: Request[Any, Any, Any]) -> Principal | None:
    try:
        return principal_of(request)
    except (NotAuthenticated, ValidationError):
        return None


def page_principal(request: Request[Any, Any, Any], *roles: str) -> Principal:
    """The signed-in principal holding one of ``roles`` (any role when none): raises
    ``LoginRequired``, ``PasswordChangeRequiredPage`` or ``WrongRolePage`` otherwise."""
    principal = current_principal(request)
    if principal is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    if principal.must_change_password:
        raise PasswordChangeRequiredPage
    if roles and not set(roles) & set(principal.roles):
        raise WrongRolePage
    return principal


def home_of(principal: Principal | None) -> str:
    """The page ``/`` sends ``principal`` to."""
    if principal is None:
        return "/login"
    if principal.must_change_password:
        return "/password"
    for role, url in ROLE_HOME.items():
        if role in principal.roles:
            return url
    return "/login"


def safe_next(raw: str | None) -> str:
    """A same-site path to go to after signing in (anything else: ``/``)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw


def _to_login(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return Redirect("/login?" + urlencode({"next": exc.next_url}))


def _to_password(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return Redirect("/password")


def _to_home(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return Redirect(home_of(current_principal(request)))


PAGE_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LoginRequired: _to_login,
    PasswordChangeRequiredPage: _to_password,
    WrongRolePage: _to_home,
}


# ------------------------------------------------------------------------- render


def fmt_ms(ms: int | None) -> str:
    """UTC milliseconds as ``YYYY-MM-DD HH:MM`` China Standard Time ("" for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=CST).strftime("%Y-%m-%d %H:%M")


def fmt_score(value: float | None) -> str:
    """A score without a needless ``.0``."""
    if value is None:
        return ""
    return f"{value:.1f}".removesuffix(".0")


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    lang = lang_of(request)

    def translate(key: str, /, **values: object) -> str:
        return i18n.t(key, lang, **values)

    def messages(*prefixes: str) -> dict[str, str]:
        return i18n.js_messages(lang, prefixes or ("js.",))

    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "t": translate,
        "js_messages": messages,
        "principal": current_principal(request),
        "lang_url": _lang_url(request, lang),
        "path": request.url.path,
        "fmt_ms": fmt_ms,
        "fmt_score": fmt_score,
        "masked": masked,
    }


def render(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Template:
    """The page ``template`` with the base context and ``context``; remembers a
    ``?lang=`` switch in the cookie."""
    cookies = []
    chosen = _lang_value(request.query_params.get("lang"))
    if chosen is not None and chosen != _lang_value(request.cookies.get(LANG_COOKIE)):
        cookies.append(
            Cookie(key=LANG_COOKIE, value=chosen, max_age=_LANG_MAX_AGE, samesite="lax", path="/")
        )
    return Template(
        template_name=template,
        context={**base_context(request), **context},
        status_code=status_code,
        headers=PAGE_HEADERS,
        cookies=cookies,
        media_type="text/html",
    )
