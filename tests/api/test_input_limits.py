"""Every bad input is a clear 4xx problem+json, never a 500 (decision 0016).

The route walk checks the rule where it is declared: every path and query parameter of
the API carries bounds (``api.http.params``), and each declared bound is enforced — a
value just past it is refused with a problem naming the field. The JSON body rules
(UTF-8, depth, control characters, size) and the issue's own examples follow, on SQLite
and PostgreSQL (where integers ≥ 2³¹ and NUL used to reach the database).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any, Literal
from urllib.parse import quote

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from api.http.errors import PROBLEM_JSON
from api.http.params import (
    MAX_FILE_PATH,
    MAX_INT,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    ONE_LINE,
    plain_file_path,
)
from api.services.attempts import MAX_SAVES
from api.settings import DatabaseSettings, Settings
from api.store.tables import ROLES

Client = AsyncTestClient[Litestar]
EVERYONE = "13800000009"


@pytest.fixture
async def client(app_client: Client, add_user: Callable[..., None]) -> Client:
    """Signed in with every role: the guards let each request reach parameter parsing."""
    add_user(EVERYONE, *ROLES)
    response = await app_client.post(
        "/auth/login", json={"login": EVERYONE, "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    return app_client


# ------------------------------------------------------------------------ the walk


class Param(typing.NamedTuple):
    route: HTTPRoute
    handler: HTTPRouteHandler
    name: str
    annotation: Any
    bounds: ParameterKwarg
    in_path: bool


def api_handlers(app: Litestar) -> Iterator[tuple[HTTPRoute, HTTPRouteHandler]]:
    """Every handler of the API and of the pages (a page reads the same parameters) but
    Litestar's own ``/schema/{path}``, which looks its path up among its renderers."""
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path != "/schema/{path:str}":
            yield from ((route, handler) for handler in route.route_handlers)


def parameters(app: Litestar) -> list[Param]:
    found = []
    for route, handler in api_handlers(app):
        dependencies = handler.resolve_dependencies()
        for name, field in handler.parsed_fn_signature.parameters.items():
            kwarg = field.kwarg_definition
            if isinstance(kwarg, ParameterKwarg) and name not in dependencies:
                annotation = field.annotation
                if field.is_optional:
                    annotation = next(t for t in field.inner_types if not t.is_none_type).annotation
                in_path = f"{{{name}:" in route.path
                found.append(Param(route, handler, name, annotation, kwarg, in_path))
    return found


def test_every_parameter_of_the_api_declares_its_bounds(app_client: Client) -> None:
    """A new parameter without bounds fails here: integers within PostgreSQL's integer,
    strings one line of bounded length; list bodies a bounded number of items."""
    params = parameters(app_client.app)
    assert len(params) > 30
    unbounded = []
    for p in params:
        where = f"{p.route.path} {p.name}"
        if p.annotation is int:
            if p.bounds.ge is None or p.bounds.le is None or p.bounds.le > MAX_INT:
                unbounded.append(where)
        elif p.annotation is str:
            if p.bounds.max_length is None or p.bounds.pattern != ONE_LINE:
                unbounded.append(where)
        elif issubclass_safe(p.annotation, PurePath):
            guards = [getattr(g, "func", g) for g in p.handler.resolve_guards()]
            if plain_file_path not in guards:
                unbounded.append(where)
        elif typing.get_origin(p.annotation) is not Literal and p.annotation is not bool:
            unbounded.append(f"{where}: {p.annotation}")
    for route, handler in api_handlers(app_client.app):
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None and typing.get_origin(data.annotation) is list:
            kwarg = data.kwarg_definition
            if not isinstance(kwarg, BodyKwarg) or kwarg.max_items is None:
                unbounded.append(f"{route.path} body")
    assert unbounded == []


def issubclass_safe(annotation: Any, kind: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, kind)


def valid(p: Param) -> str:
    if p.annotation is int:
        return str(p.bounds.ge)
    if typing.get_origin(p.annotation) is Literal:
        return str(typing.get_args(p.annotation)[0])
    if p.annotation is bool:
        return "true"
    return "x"


def violations(p: Param) -> list[str]:
    """Values just past each declared bound."""
    if p.annotation is int:
        assert p.bounds.ge is not None and p.bounds.le is not None
        return [str(p.bounds.ge - 1), str(p.bounds.le + 1), str(2**63)]
    if typing.get_origin(p.annotation) is Literal:
        return ["not-one-of-them"]
    if p.annotation is bool:
        return ["maybe"]
    if issubclass_safe(p.annotation, PurePath):  # a static file: no such file
        return ["x" * (MAX_FILE_PATH + 1), "a\x00b", "a\x1fb"]
    assert p.bounds.max_length is not None
    bad = ["x" * (p.bounds.max_length + 1), "a\x00b", "a\x1fb", "a\nb"]
    if (p.bounds.min_length or 0) > 0 and not p.in_path:
        bad.append("")
    return bad


def url(route: HTTPRoute, values: dict[str, str]) -> str:
    path = route.path
    for name, value in values.items():
        for kind in ("str", "int"):
            path = path.replace(f"{{{name}:{kind}}}", quote(value, safe=""))
    return path


async def test_every_declared_bound_of_every_parameter_is_enforced(client: Client) -> None:
    params = parameters(client.app)
    checked = 0
    for p in params:
        if p.handler.http_methods == {"HEAD"}:
            continue  # no body to read; its GET twin is walked
        siblings = [q for q in params if q.handler is p.handler]
        for bad in violations(p):
            values = {q.name: valid(q) for q in siblings} | {p.name: bad}
            path_values = {q.name: values[q.name] for q in siblings if q.in_path}
            query = {q.name: values[q.name] for q in siblings if not q.in_path}
            methods = p.handler.http_methods
            method = "GET" if "GET" in methods else sorted(methods)[0]  # a reply with a body
            body = {} if method in {"POST", "PUT"} else None
            response = await client.request(
                method, url(p.route, path_values), params=query, json=body
            )
            where = f"{method} {p.route.path} {p.name}={bad!r}"
            assert response.status_code in {400, 404, 422}, (where, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON, where
            problem = response.json()
            assert problem["detail"] and problem["detail_zh"], where
            if response.status_code == 422:
                fields = {error["field"] for error in problem["errors"]}
                assert p.name in fields, (where, problem)
            checked += 1
    assert checked > 100


async def test_a_list_body_longer_than_its_bound_is_refused_before_it_is_read(
    client: Client,
) -> None:
    saves = [{"item": "x", "seq": n + 1, "response": None} for n in range(MAX_SAVES + 1)]
    response = await client.post("/api/attempts/" + "a" * 32 + "/answers", json=saves)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    assert str(MAX_SAVES) in response.json()["errors"][0]["message"]


# ----------------------------------------------------------------------- JSON bodies


async def login_with(client: Client, body: bytes) -> Any:
    return await client.post(
        "/auth/login", content=body, headers={"content-type": "application/json"}
    )


async def test_invalid_utf8_in_a_json_body_is_a_400_for_anyone(app_client: Client) -> None:
    response = await login_with(app_client, b'{"login": "\xff\xfe", "password": "x"}')
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "malformed_json"
    assert "UTF-8" in response.json()["detail"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
async def test_json_nested_too_deep_is_a_400_for_anyone(app_client: Client, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    response = await login_with(app_client, b'{"login": ' + nested + b', "password": "x"}')
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert str(MAX_JSON_DEPTH) in response.json()["detail"]


async def test_json_nested_up_to_the_limit_is_read(app_client: Client) -> None:
    depth = MAX_JSON_DEPTH - 1  # the object around it is one level
    nested = b"[" * depth + b"]" * depth
    response = await login_with(app_client, b'{"login": ' + nested + b', "password": "x"}')
    assert response.status_code == 422  # read, then refused for its type
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x0d", "\x1b", "\x1f"])
async def test_a_control_character_in_body_text_is_refused_naming_the_field(
    app_client: Client, char: str
) -> None:
    response = await app_client.post("/auth/login", json={"login": f"ab{char}c", "password": "x"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "control_character"
    assert [e["field"] for e in problem["errors"]] == ["login"]
    assert "login" in problem["detail"] and "login" in problem["detail_zh"]


async def test_a_control_character_deep_in_a_body_or_in_a_key_is_named_by_its_path(
    app_client: Client,
) -> None:
    response = await app_client.post(
        "/auth/login", json={"login": "a", "password": "x", "extra": [{"k": "\x00"}]}
    )
    assert [e["field"] for e in response.json()["errors"]] == ["extra[0].k"]
    response = await app_client.post("/auth/login", json={"login": "a", "\x00": 1})
    assert response.status_code == 422
    assert response.json()["code"] == "control_character"


async def test_tab_and_newline_in_body_text_are_text(app_client: Client) -> None:
    response = await app_client.post("/auth/login", json={"login": "a\tb\nc", "password": "x"})
    assert response.status_code == 401  # read and checked like any login


async def test_a_json_body_larger_than_the_limit_is_a_413(app_client: Client) -> None:
    body = b'{"login": "' + b"x" * MAX_JSON_BYTES + b'", "password": "x"}'
    response = await login_with(app_client, body)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "body_too_large"


# ------------------------------------------------------ the issue's examples, both DBs


@pytest.fixture
def app_settings(settings_sqlite: Settings, db_url: str) -> Settings:
    return settings_sqlite.replace(database=DatabaseSettings(url=db_url))


ISSUE_EXAMPLES = [
    ("GET", "/api/banks/b/export?format=nonsense", "format"),
    ("GET", "/api/banks/b/items?version=2147483648", "version"),
    ("GET", "/api/banks/b/items?version=9223372036854775808", "version"),
    ("POST", "/api/banks/b/versions/2147483648/publish", "version"),
    ("POST", "/api/exams/e/versions/2147483648/publish", "version"),
    ("GET", "/api/exams/e/papers/someone/2147483648/audit", "attempt"),
    ("GET", "/api/banks/b/diff?old=1&new=2147483648", "new"),
    ("GET", "/api/banks/b/items?offset=-1", "offset"),
    ("GET", "/api/banks/b/items?limit=-1", "limit"),
    ("GET", "/api/banks/b/items?limit=0", "limit"),
    ("GET", "/api/banks/b/items?limit=501", "limit"),
    ("GET", "/api/banks/a%00b/versions", "bank"),
    ("GET", "/api/banks/b/items?q=a%00b", "q"),
    ("GET", "/api/operator/attempts?exam=a%00", "exam"),
    ("POST", "/api/exams/" + "k" * 300 + "/attempts", "key"),
    ("POST", "/api/accounts/a%00/roles", "login"),
]


async def test_the_issues_examples_are_4xx_naming_the_field_on_each_backend(
    client: Client,
) -> None:
    for method, path, field in ISSUE_EXAMPLES:
        response = await client.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON
        assert field in {e["field"] for e in response.json()["errors"]}, path


async def test_options_lists_every_method_of_the_path(client: Client) -> None:
    response = await client.options("/api/banks/b/items/k")
    assert response.headers["allow"] == "GET, OPTIONS, PUT"
    for route, _ in api_handlers(client.app):
        if "{" not in route.path:
            allow = (await client.options(route.path)).headers["allow"]
            assert set(allow.split(", ")) == route.methods, route.path
