"""The API description page works with the network cut off: Swagger UI comes from the app
itself (the pinned swagger-ui-bundle-v2 package), not from a CDN."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import expect

from tests.e2e.conftest import Server


async def test_the_api_docs_render_with_every_other_host_blocked(
    page: Any, e2e_server: Server, shot: Any
) -> None:
    ours = urlsplit(e2e_server.url).netloc
    blocked: list[str] = []

    async def only_our_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == ours:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_our_server)
    await page.set_viewport_size({"width": 1280, "height": 900})
    # The bundle is large and every request of it goes through the route above: on a
    # loaded 2-core machine loading it took more than the default 10 s once.
    await page.goto("/schema", timeout=30_000)

    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "examengine", timeout=30_000
    )
    # The operations are listed, grouped by tag, from the app's own OpenAPI document.
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert await page.locator(".opblock").count() > 20
    await shot(page, "api-schema", full_page=False)
    assert blocked == [], f"the docs page asked other hosts for {blocked}"
