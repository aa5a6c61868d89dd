"""/docs and /redoc work on a network with no route to a CDN (issue 12: "today /docs is blank")."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Live, Web

_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_reference_only_same_origin_assets_that_answer(web: Web, path: str) -> None:
    """Every script, style, icon and the OpenAPI document are on this service and answer 200."""
    client = web.service.client
    page = client.get(path)
    assert page.status_code == 200
    assets = [a or b for a, b in _ASSET.findall(page.text)]
    assert assets, "no assets found in the page"
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        assert client.get(asset).status_code == 200, asset
    assert "cdn.jsdelivr.net" not in page.text
    assert "fonts.googleapis.com" not in page.text


def test_docs_render_the_operations_with_other_origins_blocked(page: Any, live: Live) -> None:
    """In Chromium with every other origin refused, Swagger UI lists the API's operations."""
    foreign: list[str] = []

    def only_this_origin(route: Any) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_origin)
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 20
    assert page.locator("[data-path='/v1/verify']").count() >= 1
    assert foreign == []
