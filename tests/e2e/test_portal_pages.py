"""Every portal page with realistic traffic, at desktop and phone widths: what each shows, and
screenshots of it under test-artifacts/portal/ for a person to look at."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.models import DeliveryOptions
from hookline.service import Service
from tests.e2e.browser import screenshot
from tests.e2e.portal import CATALOGUE, portal_link, seed_catalogue
from tests.support.api import ADMIN_TOKEN, ApiServer
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

pytestmark = pytest.mark.timeout(90)
EVENTS = ["customer.created", "transaction.created", "customer.updated", "reward.approved",
          "partner.approved", "transaction.created"]


async def busy_application(service: Service, receiver: Receiver) -> dict[str, Any]:
    """An application with a healthy, a flaky, a broken and a paused endpoint, after traffic."""
    await seed_catalogue(service)
    app = await service.create_app("Acme Partners", uid="acme")
    receiver.statuses["/crm"] = [200, 200, 503, 200, 200, 500, 200]
    receiver.statuses["/legacy"] = [500]
    orders = await service.create_endpoint(
        app.id, url=receiver.url("/orders"), description="Order sync",
        filter_types=["customer.*", "transaction.created", "reward.approved",
                      "partner.approved"])
    crm = await service.create_endpoint(
        app.id, url=receiver.url("/crm"), description="CRM (staging)",
        headers={"Authorization": "Bearer crm-token", "x-team": "growth"},
        options=DeliveryOptions(envelope="partnero", signature_scheme="hmac-sha256-hex",
                                signature_header="Signature",
                                retry_schedule=[3600.0]))
    legacy = await service.create_endpoint(
        app.id, url=receiver.url("/legacy"), description="Legacy verifier",
        filter_types=["customer.created"],
        options=DeliveryOptions(envelope="cr3dentials", signature_scheme="hmac-sha256-hex",
                                retry_schedule=[0.1, 0.1], disable_after_failures=3))
    await service.create_endpoint(app.id, url=receiver.url("/analytics"),
                                  description="Analytics export", disabled=True)
    for index, event_type in enumerate(EVENTS):
        example = next(et.example for et in CATALOGUE if et.name == event_type)
        await service.publish(app.id, event_type, {**(example or {}), "seq": index})
    await attempts_recorded(service, app.id, len(EVENTS), timeout=15, endpoint_id=orders.id)
    await attempts_recorded(service, app.id, len(EVENTS), timeout=15, endpoint_id=crm.id)
    await attempts_recorded(service, app.id, 3, timeout=15, endpoint_id=legacy.id)
    return {"app": app, "orders": orders, "crm": crm, "legacy": legacy}


async def test_every_page_reads_well_at_desktop_and_phone_widths(
        api: ApiServer, receiver: Receiver, browser: Any) -> None:
    from playwright.async_api import expect

    service = api.runtime.service
    data = await busy_application(service, receiver)
    base = f"{api.base_url}/portal"
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.goto(await portal_link(api, data["app"].id))

    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(4)
    colours = {await row.locator(".endpoint-url").inner_text():
               await row.locator("[data-health]").get_attribute("data-health")
               for row in await rows.all()}
    assert colours == {receiver.url("/orders"): "green", receiver.url("/crm"): "yellow",
                       receiver.url("/legacy"): "red", receiver.url("/analytics"): "paused"}
    await expect(page.locator("tr", has_text="/legacy").locator(".pill")).to_have_text(
        "Disabled by failures")
    await expect(page.locator("tr", has_text="/analytics").locator(".pill")).to_have_text(
        "Inactive")
    await screenshot(page, "list")

    await page.goto(f"{base}/endpoints/{data['crm'].id}")
    await expect(page.locator("svg.chart rect.fail")).to_have_count(1)
    await expect(page.locator(".facts")).to_contain_text("Authorization: ***")
    assert "crm-token" not in await page.content()
    await screenshot(page, "overview")

    await page.goto(f"{base}/endpoints/{data['crm'].id}/edit")
    await expect(page.get_by_label("Payload format")).to_have_value("partnero")
    await page.get_by_label("All events").uncheck()
    await page.get_by_placeholder("Search event types").fill("reward")
    await expect(page.locator("[data-event-item]:visible")).to_have_count(1)
    await page.get_by_placeholder("Search event types").fill("")
    await page.get_by_label("customer.* every customer event").check()
    await screenshot(page, "edit")

    # A new endpoint from a preset: choosing it fills in what it sets.
    await page.goto(f"{base}/endpoints/new")
    await page.get_by_label("Preset").select_option("smile")
    await expect(page.get_by_label("Payload format")).to_have_value("smile")
    await expect(page.get_by_label("Signature header")).to_have_value("Smile-Signature")
    await expect(page.get_by_label("Retry schedule")).to_have_value("30, 30")
    await screenshot(page, "new")

    await page.goto(f"{base}/endpoints/{data['orders'].id}/deactivate")
    await expect(page.get_by_role("button", name="Deactivate endpoint")).to_be_visible()
    await screenshot(page, "deactivate")
    await page.goto(f"{base}/endpoints/{data['orders'].id}/delete")
    await screenshot(page, "delete")

    await page.goto(f"{base}/endpoints/{data['orders'].id}/test?event_type=customer.created")
    await page.get_by_role("button", name="Send test event").click()
    await expect(page.locator("[data-test=test-result]")).to_have_text("Delivered")
    await screenshot(page, "test")

    await page.goto(f"{base}/endpoints/{data['crm'].id}/logs")
    await expect(page.locator(".log-entry")).to_have_count(len(EVENTS))
    await expect(page.locator(".log-entry.is-bad")).to_have_count(2)
    await screenshot(page, "logs")

    await page.goto(f"{base}/events")
    await expect(page.locator(".event-card")).to_have_count(len(CATALOGUE))
    await screenshot(page, "catalogue")

    # Signed out, the admin signs in with the admin token and picks an application.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Administrator sign-in")).to_be_visible()
    await screenshot(page, "login")
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await screenshot(page, "apps")
    await page.get_by_role("button", name="Open").click()
    await expect(page.locator("tbody tr")).to_have_count(4)
