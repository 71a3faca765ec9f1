"""The portal, in a real browser, for an endpoint its failures disabled: the next automatic
retry and the events waiting are shown, and "Retry now" brings it back with what it missed;
and Recover, which previews the replay ("Replay 7 messages?") before it sends exactly those."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from hookline.models import DeliveryOptions
from tests.e2e.portal import portal_link
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded, wait_until
from tests.support.receiver import Received, Receiver

pytestmark = pytest.mark.timeout(60)


async def test_a_disabled_endpoint_shows_its_next_probe_and_waiting_events_and_retries_now(
        api: ApiServer, receiver: Receiver, browser: Any) -> None:
    from playwright.async_api import expect

    service = api.runtime.service
    up = {"now": False}
    accepted: list[bytes] = []

    def answer(received: Received) -> web.Response:
        if up["now"]:
            accepted.append(received.body)
        return web.Response(status=200 if up["now"] else 500)

    receiver.on("/hook", answer)
    app = await service.create_app("Acme")
    # A long probe schedule: only "Retry now" can bring it back during the test.
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/hook"), options=(
        DeliveryOptions(retry_schedule=[], disable_after_failures=1, probe_schedule=[3600])))
    await service.publish(app.id, "a.b", {"n": 0})

    async def probe_scheduled() -> bool:
        await service.probe_due_endpoints()
        return (await service.get_endpoint(app.id, endpoint.id)).next_probe_at is not None

    await wait_until(probe_scheduled, what="the endpoint to be disabled and its probe set")
    for n in range(1, 3):
        await service.publish(app.id, "a.b", {"n": n})

    page = await (await browser.new_context()).new_page()
    await page.goto(await portal_link(api, app.id))
    await page.goto(f"{api.base_url}/portal/endpoints/{endpoint.id}")
    healing = page.locator("[data-test=healing]")
    await expect(healing.locator("[data-test=waiting]")).to_have_text("3 events waiting")
    await expect(healing.locator("[data-test=next-probe]")).to_contain_text("UTC")

    await page.locator("[data-test=retry-now]").click()
    await expect(page.locator(".notice")).to_contain_text("still fails")
    up["now"] = True
    await page.locator("[data-test=retry-now]").click()
    await expect(page.locator(".notice")).to_contain_text("active again")
    await expect(page.locator("[data-test=healing]")).to_have_count(0)
    await wait_until(lambda: len(accepted) == 3, what="the missed events, the probe's first")
    assert [b'"n":0' in body for body in accepted] == [True, False, False]


async def test_recover_previews_the_replay_then_sends_exactly_what_it_counted(
        api: ApiServer, receiver: Receiver, browser: Any) -> None:
    from playwright.async_api import expect

    service = api.runtime.service
    receiver.statuses["/down"] = [500]
    app = await service.create_app("Acme")
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/down"),
                                             options=DeliveryOptions(retry_schedule=[]))
    failed = [(await service.publish(app.id, f"order.n{n}", {"n": n})).message.id
              for n in range(7)]
    await attempts_recorded(service, app.id, 7, endpoint_id=endpoint.id, succeeded=False)
    receiver.statuses["/down"] = [200]

    page = await (await browser.new_context()).new_page()
    await page.goto(await portal_link(api, app.id))
    await page.goto(f"{api.base_url}/portal/endpoints/{endpoint.id}/logs")
    await page.locator("#since").select_option("1")
    await page.locator("[data-test=recover]").click()
    await expect(page.locator("[data-test=replay-count]")).to_have_text("Replay 7 messages?")
    listed = page.locator("[data-test=replay-message]")
    assert [await item.get_attribute("data-message") for item in await listed.all()] == \
        failed[:5]
    await expect(listed.first).to_contain_text("order.n0")
    assert receiver.at("/down")[7:] == []  # a preview sends nothing

    await page.locator("[data-test=confirm-replay]").click()
    await expect(page.locator("[data-test=replay-result]")).to_have_text("7 messages replayed")
    await wait_until(lambda: len(receiver.at("/down")) == 14, what="the 7 replayed messages")
    assert sorted(r.headers["webhook-id"] for r in receiver.at("/down")[7:]) == sorted(failed)

    task_page = page.url
    other = await service.create_app("Other")
    stranger = await (await browser.new_context()).new_page()
    await stranger.goto(await portal_link(api, other.id))
    shown = await stranger.goto(task_page)
    assert shown is not None and shown.status == 404  # another application's replay
