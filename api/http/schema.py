"""The API's description: OpenAPI at ``/schema`` (``/schema/openapi.json``) and its viewer,
every reply of every operation (``document_replies``), and the ``Allow`` header of
``OPTIONS`` (``allow_every_method``).

The refusals an operation documents are derived, not listed per route
(docs/decisions/0016): 401 and 403 from its guards; 400, 413, 415 and 422 from a body; 422
from parameters and 404 from path parameters; 429 from the login rate limit; 503 (the
admission gate, a busy database) everywhere; and the statuses ``api.http.errors`` maps
the domain exceptions to that a handler (or its controller) names under
``opt={RAISES: (…)}``. Each is ``application/problem+json`` with the ``Problem`` schema.

The viewer is Swagger UI from the pinned ``swagger-ui-bundle-v2`` package, served by the
app itself under ``/schema-assets/`` — never from a CDN, so the page works offline and does
not change under us (docs/decisions/0011-shell-layout.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_type_hints

import msgspec
from litestar import Litestar, Response
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.params import ParameterKwarg
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.types import Scope
from litestar.typing import FieldDefinition
from swagger_ui_bundle import swagger_ui_path

if TYPE_CHECKING:  # Litestar passes it; the class lives in a private module
    from litestar._openapi.schema_generation import SchemaCreator

from api.http.auth import RATE_LIMITED, requires_session
from api.http.csrf import UNSAFE_METHODS
from api.http.errors import MESSAGES, PROBLEM_JSON, RAISES, Problem, statuses_of
from api.http.params import plain_file_path

#: Where the viewer's scripts, stylesheet and icon are served.
ASSETS = "/schema-assets"


def openapi_config(version: str) -> OpenAPIConfig:
    """OpenAPI at ``/schema``, shown by Swagger UI from the app's own assets."""
    viewer = SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )
    # The first render plugin is also served at the root path, /schema.
    return OpenAPIConfig(
        title="examengine", version=version, path="/schema", render_plugins=[viewer]
    )


def viewer_assets() -> Any:
    """``/schema-assets``: the files of the pinned Swagger UI, cached for a day."""
    return create_static_files_router(
        path=ASSETS,
        directories=[swagger_ui_path],
        name="schema-assets",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
        guards=[plain_file_path],
    )


def allow_every_method(app: Litestar) -> None:
    """Make each path's ``OPTIONS`` answer list every method of the path.

    Litestar builds a controller's routes one handler at a time, and the automatic
    ``OPTIONS`` handler of a path keeps the methods of the route its first handler made:
    ``OPTIONS /api/banks/{bank}/items/{key}`` answered ``Allow: GET, OPTIONS`` though
    the path takes PUT too. Called once by the app factory, after the routes are built.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        if handler.handler_name == "options_handler":  # Litestar's, not one of ours
            handler._fn = _options(", ".join(sorted(route.methods)))


def _options(allow: str) -> Any:
    def options_handler(scope: Scope) -> Response[None]:
        return Response(
            content=None,
            status_code=HTTP_204_NO_CONTENT,
            headers={"Allow": allow},
            media_type=MediaType.TEXT,
        )

    return options_handler


def document_replies(app: Litestar) -> None:
    """Give every operation of ``app``'s API description its refusals (see the module
    docstring); called once by the app factory, before the document is first built."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.include_in_schema:
                handler.responses = {
                    status: ResponseSpec(
                        data_container=Problem,
                        media_type=PROBLEM_JSON,
                        description=MESSAGES.get(status, ("",))[0] or str(status),
                        generate_examples=False,
                    )
                    for status in sorted(refusals(handler))
                } | dict(handler.responses or {})


def refusals(handler: HTTPRouteHandler) -> set[int]:
    """The error statuses ``handler`` may answer with."""
    statuses = {503}
    guards = [getattr(guard, "func", guard) for guard in handler.resolve_guards()]
    if guards:
        statuses.add(401)
    if any(guard is not requires_session for guard in guards):
        statuses.add(403)
    fields = handler.parsed_fn_signature.parameters
    if "data" in fields:
        statuses |= {400, 413, 415, 422}
    dependencies = handler.resolve_dependencies()
    if any(
        isinstance(field.kwarg_definition, ParameterKwarg) and name not in dependencies
        for name, field in fields.items()
    ):
        statuses |= {400, 422}
    if any("{" in path for path in handler.paths):
        statuses |= {400, 404, 422}
    if handler.http_methods & UNSAFE_METHODS:
        statuses.add(403)  # a cross-site request, or a form without its CSRF token (csrf.py)
    opt = handler.opt
    if opt.get(RATE_LIMITED):
        statuses.add(429)
    raises: Iterable[type[Exception]] = opt.get(RAISES, ())
    for exc_type in raises:
        statuses |= statuses_of(exc_type)
    return statuses


_BYTES = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


def replying_in(*media_types: str) -> type[Operation]:
    """An ``operation_class`` for a handler whose success reply comes in each of
    ``media_types`` (an export's format, a roster's error file): JSON stays described by
    its schema, any other type as bytes."""

    @dataclass
    class Described(Operation):
        def __post_init__(self) -> None:
            ok = next((r for s, r in (self.responses or {}).items() if s.startswith("2")), None)
            if ok is None or isinstance(ok, Reference):
                return
            json = (ok.content or {}).get("application/json")
            binary = OpenAPIMediaType(schema=_BYTES)
            ok.content = {
                media_type: json if media_type == "application/json" and json else binary
                for media_type in media_types
            }

    return Described


class ArrayLikeStructs(OpenAPISchemaPlugin):
    """Describe a msgspec ``Struct`` declared ``array_like=True`` as what it encodes to: an
    array of its fields in order (``prefixItems``), not an object (a paper's items, a
    save's references). Litestar's own schema for a Struct ignores ``array_like``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        kind = field_definition.annotation
        return (
            isinstance(kind, type)
            and issubclass(kind, msgspec.Struct)
            and bool(kind.__struct_config__.array_like)
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        kind = field_definition.annotation
        hints = get_type_hints(kind, include_extras=True)
        names = kind.__struct_fields__
        return Schema(
            type=OpenAPIType.ARRAY,
            title=kind.__name__,
            description=f"[{', '.join(names)}]",
            prefix_items=[
                schema_creator.for_field_definition(FieldDefinition.from_annotation(hints[name]))
                for name in names
            ],
            min_items=len(names) - len(kind.__struct_defaults__),
            max_items=len(names),
        )
