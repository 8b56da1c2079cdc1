"""What a request may carry, checked once, where Litestar parses it (decision 0016).

Path and query parameters are declared with the shared types below: each carries its
bounds as a Litestar ``Parameter`` (``ge``/``le``, ``max_length``, ``pattern``), which
Litestar enforces while parsing and shows in the OpenAPI document. ``Annotated[…,
Meta(…)]`` is *not* enough for a top-level parameter or a list body — Litestar drops
the ``Meta`` there — so controllers use these types (and ``Body(max_items=…)`` for list
bodies), and ``tests/api/test_input_limits.py`` walks every route to check that each
parameter is bounded and that each bound holds.

- **Integers** fit PostgreSQL's ``integer`` (``MAX_INT``): a larger one is refused
  before it reaches a query (PostgreSQL fails on ≥ 2³¹, SQLite on ≥ 2⁶³).
- **Strings** in a path or query are one line of at most the column's length, with no
  C0 control character (``ONE_LINE``: PostgreSQL cannot store NUL).
- **JSON bodies** (``ApiRequest.json``): valid UTF-8, at most ``MAX_JSON_DEPTH``
  levels deep, and no C0 control character in any string or key but tab and newline
  (``TEXT_CONTROL``); their size is capped by ``MAX_JSON_BYTES`` (the app's
  ``request_max_body_size``; uploads set their own on the route).

Each refusal is a 4xx problem+json naming the field and the rule (``api.http.errors``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import Parameter
from litestar.types import Empty

from api.http.errors import BodyTooDeep, ControlCharacter, MalformedJson
from api.services.exams import MAX_LEARNER_REF

#: The largest integer a path, query or body id may hold: PostgreSQL's ``integer``.
MAX_INT = 2**31 - 1
#: Largest JSON body (bytes); larger bodies get 413 before they are read in full.
MAX_JSON_BYTES = 1024 * 1024
#: Deepest nesting of a JSON body: an answer or a spec is a few levels deep.
MAX_JSON_DEPTH = 32
#: A path or query string: no C0 control character at all (a key, a login, a filter).
ONE_LINE = r"^[^\x00-\x1f]*$"
#: Any C0 control character (what ``ONE_LINE`` keeps out).
ONE_LINE_BREAKER = r"[\x00-\x1f]"
#: Text in a body: the C0 control characters but tab (\x09) and newline (\x0a).
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def _text(max_length: int, *, min_length: int = 1, description: str | None = None) -> Any:
    return Parameter(
        min_length=min_length, max_length=max_length, pattern=ONE_LINE, description=description
    )


def _count(ge: int, le: int = MAX_INT, description: str | None = None) -> Any:
    return Parameter(ge=ge, le=le, description=description)


# --------------------------------------------------------------- parameter types

#: A bank's name (the ``bank.name`` column).
BankName = Annotated[str, _text(200, description="The bank's name")]
#: An exam's key (``exam.key``).
ExamKey = Annotated[str, _text(120, description="The exam's key")]
#: An item's key within a bank (``item.key``).
ItemKey = Annotated[str, _text(120, description="The item's key")]
#: A chapter's or a plan's key.
ChapterKey = Annotated[str, _text(120, description="The chapter's key")]
PlanKey = Annotated[str, _text(120, description="The plan's key")]
#: An account's login, resident ID number or phone (``user.login``).
LoginRef = Annotated[str, _text(64, description="The account's login, ID number or phone")]
#: A paper's learner: a login or any test reference (``paper.learner_ref``).
LearnerRef = Annotated[
    str, _text(MAX_LEARNER_REF, description="The learner's login or a test reference")
]
#: An attempt's id (32 hexadecimal characters).
AttemptId = Annotated[str, _text(32, description="The attempt's id")]
#: An employer's registered name (``employer.name``).
EmployerRef = Annotated[str, _text(200, description="The employer's registered name")]
#: An order's number (``purchase_order.number``: 16 digits).
OrderNumber = Annotated[str, _text(24, description="The order's number")]
#: A payment provider's name.
ProviderName = Annotated[str, _text(32, description="The payment provider's name")]
#: A study session's token.
StudyToken = Annotated[str, _text(200, description="The study session's token")]
#: A search filter (may be empty), and one that may be left out.
Filter = Annotated[str, _text(200, min_length=0)]
OptionalFilter = Annotated[str | None, _text(200, min_length=0)]

#: A version number of a bank or an exam; ``LatestVersion`` may be left out (the latest).
Version = Annotated[int, _count(1, description="The version number")]
LatestVersion = Annotated[int | None, _count(1, description="The version (the latest if left out)")]
#: An attempt number of a learner at an exam.
AttemptNumber = Annotated[int, _count(1, 1000, description="The attempt number")]
#: Paging.
Offset = Annotated[int, _count(0, description="Items to skip")]
Limit = Annotated[int, _count(1, 500, description="Items to return")]
PageNumber = Annotated[int, _count(1, 100_000, description="The page, from 1")]
#: A calendar year (China's).
Year = Annotated[int, _count(2000, 2100, description="The calendar year")]


# -------------------------------------------------------------------- JSON bodies


def check_json(value: Any) -> None:
    """Raise ``BodyTooDeep`` or ``ControlCharacter`` (naming the field) when ``value``,
    a decoded JSON body, nests deeper than ``MAX_JSON_DEPTH`` or holds a control
    character in a string or key."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            if TEXT_CONTROL.search(node):
                raise ControlCharacter(where or "body")
        elif isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BodyTooDeep(MAX_JSON_DEPTH)
            pairs = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in pairs:
                path = f"{where}[{key}]" if isinstance(key, int) else _join(where, key)
                if isinstance(key, str) and TEXT_CONTROL.search(key):
                    raise ControlCharacter(path)
                stack.append((child, path, depth + 1))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class ApiRequest(Request[Any, Any, Any]):
    """The app's request: a JSON body is decoded once and checked (``check_json``);
    malformed JSON, invalid UTF-8 and nesting beyond the decoder's reach are a 400."""

    async def json(self) -> Any:
        if (cached := self._connection_state.json) is not Empty:
            return cached
        body = await self.body()
        try:
            value = msgspec.json.decode(body or b"null")
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise MalformedJson(str(exc)) from None
        except RecursionError:
            raise BodyTooDeep(MAX_JSON_DEPTH) from None
        if b"\\" in body or body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
            # Without a backslash no string can hold a control character (a raw one is
            # malformed JSON), and with so few brackets nothing nests too deep: most
            # bodies (every heartbeat) skip the walk.
            check_json(value)
        self._json = self._connection_state.json = value
        return value


__all__ = [
    "MAX_INT",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "ONE_LINE",
    "TEXT_CONTROL",
    "ApiRequest",
    "AttemptId",
    "AttemptNumber",
    "BankName",
    "ChapterKey",
    "EmployerRef",
    "ExamKey",
    "Filter",
    "ItemKey",
    "LatestVersion",
    "LearnerRef",
    "Limit",
    "LoginRef",
    "Offset",
    "OptionalFilter",
    "OrderNumber",
    "PageNumber",
    "PlanKey",
    "ProviderName",
    "StudyToken",
    "Version",
    "Year",
    "check_json",
]


#: Longest file path a static file route looks up (the files served are short names).
MAX_FILE_PATH = 255


def plain_file_path(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the static file routes: a path with a control character or longer than
    ``MAX_FILE_PATH`` names no file there, so it is a 404 before the file system sees it
    (which fails on NUL, and on a name too long, with a 500)."""
    path = str(connection.path_params.get("file_path", ""))
    if len(path) > MAX_FILE_PATH or re.search(ONE_LINE_BREAKER, path):
        raise NotFoundException()
