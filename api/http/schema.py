"""The API's description: OpenAPI at ``/schema`` (``/schema/openapi.json``) and its viewer.

The viewer is Swagger UI from the pinned ``swagger-ui-bundle-v2`` package, served by the
app itself under ``/schema-assets/`` — never from a CDN, so the page works offline and does
not change under us (docs/decisions/0011-shell-layout.md).
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

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
    )
