"""The API docs work without internet access: Swagger UI at /docs and ReDoc at /redoc render
their operations with every request outside loopback blocked (ReDoc's footer logo included)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from tests.support.api import ApiServer

LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


async def offline_page(browser: Any) -> tuple[Any, list[str]]:
    """A page whose requests to anything but loopback are aborted (and listed)."""
    page = await browser.new_page()
    blocked: list[str] = []

    async def only_loopback(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort()

    await page.route("**/*", only_loopback)
    return page, blocked


async def test_swagger_ui_renders_the_operations_offline(api: ApiServer, browser: Any) -> None:
    page, blocked = await offline_page(browser)

    await page.goto(api.base_url + "/docs")
    await page.wait_for_selector(".opblock", timeout=60_000)  # slow on a loaded machine

    operations = await page.locator(".opblock").count()
    assert operations > 20
    assert await page.locator("text=/api/v1/app/{app_id}/msg").count() > 0
    assert blocked == []


async def test_redoc_loads_its_script_from_hookline(api: ApiServer) -> None:
    """ReDoc's page names only Hookline's own assets (its footer logo, an image, is the one
    thing it would fetch from outside, and the page renders without it)."""
    page = await api.get("/redoc")
    scripts = re.findall(r'<script src="([^"]+)"', str(page.body))

    assert page.status == 200 and scripts and all(s.startswith("/") for s in scripts)
    for script in scripts:
        assert (await api.get(script)).status == 200


async def test_redoc_renders_the_operations_offline(api: ApiServer, browser: Any) -> None:
    page, blocked = await offline_page(browser)

    await page.goto(api.base_url + "/redoc")
    await page.wait_for_selector("[data-section-id^='tag/']", timeout=60_000)
    await page.wait_for_load_state("networkidle")

    assert await page.locator("text=/api/v1/app/{app_id}/msg").count() > 0
    assert blocked == []
