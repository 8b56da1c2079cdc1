"""What every browser page shares: the template engine, the language, who is signed in,
and how a page sends the browser elsewhere.

A page handler returns ``render(request, "x.html", **context)``. The base context holds:

- ``lang`` ("zh" or "en"): ``?lang=`` on any page switches it and is remembered in the
  ``lang`` cookie; the default is Chinese.
- ``t(key, **values)``: the message catalogue (``api.web.i18n``) in that language.
- ``principal``: the signed-in ``Principal`` or None.
- ``lang_url``: this page's address with the other language (the switch link).
- ``js_messages(*prefixes)``: catalogue entries as a dict, for a page's JSON data block.
- ``fmt_ms(ms)``: a time in the platform's display zone (``EXAMENGINE_DISPLAY_TIMEZONE``,
  default Asia/Shanghai), ``YYYY-MM-DD HH:MM``; ``fmt_time(ms)`` the same with the zone's
  label ("2026-12-07 09:00（北京时间）"); ``tz_label`` the label alone, for a column
  header. Scripts use ``formatTime(ms)`` from ``/static/js/i18n.js``, which reads the
  zone from ``<html data-tz>`` (docs/decisions/0036).

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

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ExceptionHandlersMap
from markupsafe import Markup
from msgspec import ValidationError

from api.http.auth import Principal, principal_of
from api.http.errors import NotAuthenticated
from api.http.params import plain_file_path
from api.services import markup
from api.web import i18n
from examengine.ids import masked

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

#: China Standard Time (UTC+8, no daylight saving): the default display zone's offset.
CST = timezone(timedelta(hours=8), "CST")
#: The display zone when the settings name none (``Settings.display_timezone``).
DEFAULT_TIMEZONE = "Asia/Shanghai"
UTC_ZONE = UTC
#: Zones with a name people use; others are labelled with their IANA name (and offset).
_ZONE_NAMES: dict[str, tuple[str, str]] = {
    "Asia/Shanghai": ("北京时间", "China Standard Time"),
    "Asia/Chongqing": ("北京时间", "China Standard Time"),
    "Asia/Urumqi": ("新疆时间", "Xinjiang Time"),
    "Asia/Hong_Kong": ("香港时间", "Hong Kong Time"),
    "Asia/Macau": ("澳门时间", "Macau Time"),
    "Asia/Taipei": ("台北时间", "Taipei Time"),
    "Asia/Tokyo": ("东京时间", "Japan Standard Time"),
    "Europe/London": ("伦敦时间", "London time"),
    "Europe/Berlin": ("柏林时间", "Berlin time"),
    "America/New_York": ("纽约时间", "New York time"),
    "UTC": ("协调世界时", "UTC"),
    "Etc/UTC": ("协调世界时", "UTC"),
}

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


#: The site's icon: drawn once (docs/decisions/0036), served at the addresses browsers ask.
_ICONS = {"/favicon.ico": "image/x-icon", "/favicon.svg": "image/svg+xml"}


def favicon_handlers() -> list[Any]:
    """``/favicon.ico`` (16 and 32 px PNGs in an ICO) and ``/favicon.svg``, cached a day."""

    def handler(path: str, media_type: str) -> Any:
        body = (STATIC / path.lstrip("/")).read_bytes()

        @get(path, include_in_schema=False, name=path.strip("/").replace(".", "_"))
        async def icon() -> Response[bytes]:
            return Response(
                body,
                media_type=media_type,
                headers={
                    "Cache-Control": "public, max-age=86400",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return icon

    return [handler(path, media) for path, media in _ICONS.items()]


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


@lru_cache(maxsize=16)
def display_zone(name: str = DEFAULT_TIMEZONE) -> tzinfo:
    """The zone called ``name`` (validated when the settings are read)."""
    return ZoneInfo(name)


def zone_of(request: Request[Any, Any, Any] | None) -> str:
    """The display zone's name from the app's settings (the default without them)."""
    if request is None:
        return DEFAULT_TIMEZONE
    settings = request.app.state.get("settings")
    return str(getattr(settings, "display_timezone", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE)


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def tz_label(lang: str, zone: str = DEFAULT_TIMEZONE, at_ms: int | None = None) -> str:
    """The zone's label: "北京时间" in Chinese, "China Standard Time, UTC+8" in English
    (the offset at ``at_ms``, or now: zones with daylight saving change it)."""
    moment = (
        datetime.now(UTC_ZONE)
        if at_ms is None
        else datetime.fromtimestamp(at_ms / 1000, tz=UTC_ZONE)
    )
    offset = _offset_text(moment.astimezone(display_zone(zone)).utcoffset())
    zh, en = _ZONE_NAMES.get(zone, (zone, zone))
    if offset == "UTC+0" and en == "UTC":
        return zh if lang == "zh" else en
    if lang == "zh":
        # 北京时间 needs no offset: everyone in China knows it.
        return zh if zh == "北京时间" else f"{zh}，{offset}"
    return f"{en}, {offset}"


def fmt_ms(ms: int | None, zone: str = DEFAULT_TIMEZONE, *, seconds: bool = False) -> str:
    """UTC milliseconds as ``YYYY-MM-DD HH:MM`` (``:SS`` with ``seconds``) in the display
    ``zone`` ("" for None); put ``tz_label`` next to it (a column header) or use
    ``fmt_time``."""
    if ms is None:
        return ""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ms / 1000, tz=display_zone(zone)).strftime(pattern)


def fmt_time(
    ms: int | None, lang: str, zone: str = DEFAULT_TIMEZONE, *, seconds: bool = False
) -> str:
    """``fmt_ms`` with the zone's label: "2026-12-07 09:00（北京时间）",
    "2026-12-07 09:00 (China Standard Time, UTC+8)" ("" for None)."""
    if ms is None:
        return ""
    label = tz_label(lang, zone, ms)
    text = fmt_ms(ms, zone, seconds=seconds)
    return f"{text}（{label}）" if lang == "zh" else f"{text} ({label})"


def fmt_score(value: float | None) -> str:
    """A score without a needless ``.0``."""
    if value is None:
        return ""
    return f"{value:.1f}".removesuffix(".0")


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    lang = lang_of(request)

    def translate(key: str, /, **values: object) -> str:
        return i18n.t(key, lang, **values)

    def translate_n(key: str, n: int, /, **values: object) -> str:
        return i18n.tn(key, n, lang, **values)

    def messages(*prefixes: str) -> dict[str, str]:
        return i18n.js_messages(lang, prefixes or ("js.",))

    zone = zone_of(request)

    def when(ms: int | None, seconds: bool = False) -> str:
        return fmt_ms(ms, zone, seconds=seconds)

    def when_labelled(ms: int | None, seconds: bool = False) -> str:
        return fmt_time(ms, lang, zone, seconds=seconds)

    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "t": translate,
        "tn": translate_n,
        "js_messages": messages,
        "principal": current_principal(request),
        "lang_url": _lang_url(request, lang),
        "path": request.url.path,
        "fmt_ms": when,
        "fmt_time": when_labelled,
        "tz": zone,
        "tz_label": tz_label(lang, zone),
        "fmt_score": fmt_score,
        "masked": masked,
        "markdown": markdown,
        "markdown_inline": markdown_inline,
    }


def markdown(text: str) -> Markup:
    """An item text (stem, explanation) as sanitized HTML (``api.services.markup``)."""
    return Markup(markup.html(text))  # sanitized by nh3


def markdown_inline(text: str) -> Markup:
    """An option's text as sanitized inline HTML (``api.services.markup``)."""
    return Markup(markup.inline_html(text))  # sanitized by nh3


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
