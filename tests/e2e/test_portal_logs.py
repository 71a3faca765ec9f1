"""The logs page: pages of messages, filters, Recover (a preview, then the replay), and (in a
browser) one row per message with its attempts nested, filtered by date and time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from hookline.models import DeliveryOptions
from tests.e2e.browser import screenshot
from tests.e2e.portal import PortalClient, csrf_token, portal_link, seed_catalogue
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

_OLDER = re.compile(r'href="\?([^"]*iterator=[^"]+)">Older')


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[PortalClient]:
    portal = PortalClient(api)
    yield portal
    await portal.close()


def attempt_count(html: str) -> int:
    return html.count('class="log-entry ')


async def test_logs_come_in_pages_and_filter_by_result_and_event_type(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    service = api.runtime.service
    await seed_catalogue(service)
    app = await service.create_app("Acme")
    receiver.on("/hook", lambda got: web.Response(
        status=500 if b"partner.approved" in got.body else 200))
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"),
                                             options=DeliveryOptions(retry_schedule=[]))
    for index in range(24):
        event_type = "customer.created" if index % 2 else "partner.approved"
        await service.publish(app.id, event_type, {"id": f"x{index}", "email": "e"})
    await attempts_recorded(api.runtime.service, app.id, 24, endpoint_id=endpoint.id)
    await client.open(await portal_link(api, app.id))
    logs = f"/portal/endpoints/{endpoint.id}/logs"

    status, first = await client.get(logs)
    assert status == 200 and attempt_count(first) == 20
    older = _OLDER.search(first)
    assert older, "the first page links to older messages"
    second = (await client.get(f"{logs}?{older.group(1).replace('&amp;', '&')}"))[1]
    assert attempt_count(second) == 4 and not _OLDER.search(second)

    failed = (await client.get(f"{logs}?status=failed"))[1]
    assert attempt_count(failed) == 12 and "is-ok" not in failed
    customers = (await client.get(f"{logs}?event_type=customer.created&status=succeeded"))[1]
    assert attempt_count(customers) == 12 and "partner.approved</code>" not in customers
    assert attempt_count((await client.get(f"{logs}?status=succeeded&after=2000-01-01"
                                           "&before=2000-01-02"))[1]) == 0


async def test_recover_previews_the_replay_then_sends_what_failed_again(
        api: ApiServer, receiver: Receiver, client: PortalClient) -> None:
    service = api.runtime.service
    app = await service.create_app("Acme")
    receiver.statuses["/hook"] = [500]
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"),
                                             options=DeliveryOptions(retry_schedule=[]))
    for index in range(3):
        await service.publish(app.id, "order.paid", {"n": index})
    await attempts_recorded(api.runtime.service, app.id, 3, endpoint_id=endpoint.id,
                            succeeded=False)
    await client.open(await portal_link(api, app.id))

    receiver.statuses["/hook"] = [200]
    status, preview = await client.get(
        f"/portal/endpoints/{endpoint.id}/recover?since_hours=1")
    assert status == 200 and "Replay 3 messages?" in preview
    window = dict(re.findall(r'name="(since|until)" value="([^"]+)"', preview))
    status = await client.post(f"/portal/endpoints/{endpoint.id}/recover", window,
                               csrf_token(preview))

    assert status == 303
    await attempts_recorded(api.runtime.service, app.id, 3, endpoint_id=endpoint.id,
                            succeeded=True)


async def test_logs_show_one_row_per_message_with_its_attempts_and_filter_by_time(
        api: ApiServer, receiver: Receiver, browser: Any) -> None:
    from playwright.async_api import expect

    service = api.runtime.service
    app = await service.create_app("Acme")
    receiver.statuses["/hook"] = [500, 500, 200]
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"),
                                             options=DeliveryOptions(retry_schedule=[0.1, 0.1]))
    retried = (await service.publish(app.id, "order.paid", {"n": 1})).message
    await attempts_recorded(service, app.id, 3, message_id=retried.id)
    once = (await service.publish(app.id, "order.paid", {"n": 2})).message
    await attempts_recorded(service, app.id, 1, message_id=once.id)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.goto(await portal_link(api, app.id))
    await page.goto(f"{api.base_url}/portal/endpoints/{endpoint.id}/logs")

    rows = page.locator(".log-entry")
    await expect(rows).to_have_count(2)
    assert [await row.get_attribute("data-message") for row in await rows.all()] == \
        [once.id, retried.id]
    row = page.locator(f".log-entry[data-message='{retried.id}']")
    summary = row.locator(".log-summary")
    await expect(summary.locator(".log-status")).to_have_text("200")  # the latest outcome
    await expect(summary).to_contain_text(retried.id)
    await expect(summary.locator("[data-attempt-count]")).to_have_text("3 attempts")
    await summary.click()
    attempts = row.locator(".attempt-summary")
    await expect(attempts).to_have_count(3)
    assert [(await a.inner_text()).split()[:3] for a in await attempts.all()] == [
        ["200", "Attempt", "3"], ["500", "Attempt", "2"], ["500", "Attempt", "1"]]
    await screenshot(page, "logs-grouped")

    async def filtered(after: datetime | None, until: datetime | None) -> None:
        for prefix, moment in (("f-after", after), ("f-before", until)):
            await page.locator(f"#{prefix}").fill(moment.strftime("%Y-%m-%d") if moment else "")
            await page.locator(f"#{prefix}-time").fill(moment.strftime("%H:%M") if moment
                                                       else "")
        await page.get_by_role("button", name="Filter").click()

    now = datetime.now(UTC)
    await filtered(now + timedelta(minutes=2), None)
    await expect(page.get_by_role("heading", name="No messages match these filters")
                 ).to_be_visible()
    await filtered(None, now - timedelta(minutes=2))
    await expect(rows).to_have_count(0)
    await filtered(now - timedelta(minutes=2), now + timedelta(minutes=2))
    await expect(rows).to_have_count(2)
    assert "after_time=" in page.url and "before_time=" in page.url
