"""A partner's whole journey through the portal, in a real browser against a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import pytest

from hookline.errors import NotFound
from hookline.models import AttemptTrigger
from tests.e2e.portal import seed_catalogue
from tests.support.api import ApiServer
from tests.support.polling import attempts_matching
from tests.support.receiver import Receiver

pytestmark = pytest.mark.timeout(90)


async def test_partner_creates_tests_debugs_and_removes_a_webhook(
        api: ApiServer, receiver: Receiver, browser: Any) -> None:
    from playwright.async_api import expect

    service = api.runtime.service
    await seed_catalogue(service)
    app = await service.create_app("Acme Partners", uid="acme")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))

    # The link the API hands out (for the configured public URL) opens the portal on this
    # application; here it is followed on the test server's own port.
    access = await api.post(f"/api/v1/auth/app-portal-access/{app.id}", {"expiry": 600})
    assert access.status == 200, access.body
    link = urlsplit(access.body["url"])
    assert link.path == "/portal/access"
    await page.goto(f"{api.base_url}{link.path}?{link.query}")
    await expect(page.get_by_role("heading", name="Endpoints", exact=True)).to_be_visible()
    await expect(page.locator(".app-chip")).to_have_text("Acme Partners")

    # Create a webhook pointing at the receiver: hex signature, an auth header, long retries.
    await page.get_by_role("link", name="Add endpoint").first.click()
    await page.get_by_label("Endpoint URL").fill(receiver.url("/hook"))
    await page.get_by_label("Description").fill("Order sync")
    await page.locator("#signature_scheme").select_option("hmac-sha256-hex")
    await page.get_by_label("Retry schedule").fill("3600")
    await page.get_by_label("Header name").first.fill("x-api-key")
    await page.get_by_label("Header value").first.fill("partner-key-123")
    await page.get_by_role("button", name="Create endpoint").click()
    await expect(page.locator(".notice")).to_contain_text("Endpoint created")
    endpoint_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
    endpoint = await service.get_endpoint(app.id, endpoint_id)
    assert endpoint.url == receiver.url("/hook")
    assert endpoint.headers == {"x-api-key": "partner-key-123"}

    # Reveal the secret, then send a test event and see it succeed, signed with that secret.
    await page.get_by_role("button", name="Reveal").click()
    secret_box = page.locator("[data-secret][data-revealed]")
    await expect(secret_box).to_have_text(endpoint.secret)
    await page.get_by_role("link", name="Test", exact=True).click()
    await page.locator("#event_type").select_option("transaction.created")
    await expect(page.locator("#payload")).to_have_value(lambda_free("txn_123"))
    await page.get_by_role("button", name="Send test event").click()
    await expect(page.locator("[data-test=test-result]")).to_have_text("Delivered")
    await expect(page.locator(".result")).to_contain_text("x-webhook-signature")
    await expect(page.locator(".result")).to_contain_text("***")
    received = (await receiver.wait_for(1, "/hook"))[0]
    expected = hmac.new(endpoint.secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-webhook-signature"] == expected
    assert received.headers["x-api-key"] == "partner-key-123"
    # The result shows every header sent and the exact bytes, as the receiver got them.
    shown = {(await row.locator("th").inner_text()).lower(): await row.locator("td").inner_text()
             for row in await page.locator(".result table.kv tr").all()}
    sent = {name.lower(): value for name, value in received.headers.items()
            if name.lower() not in ("host", "content-length")}  # framing, not content
    assert shown == {**sent, "x-api-key": "***"}
    assert {"content-type", "user-agent"} <= set(shown)
    await page.locator(".result [data-exact-bytes] summary").click()
    exact = await page.locator(".result [data-exact-bytes] pre").inner_text()
    assert exact.encode() == received.body

    # The receiver starts failing: a real event fails, the log shows it, health turns.
    receiver.statuses["/hook"] = [500]
    result = await service.publish(app.id, "customer.created",
                                   {"id": "cust_1", "email": "a@example.com"})
    await attempts_matching(service, app.id, lambda got: any(not a.succeeded for a in got),
                            what="a failed attempt", endpoint_id=endpoint_id)
    await page.get_by_role("link", name="Logs").click()
    await page.locator("#f-status").select_option("failed")
    await page.get_by_role("button", name="Filter").click()
    failed = page.locator(".log-entry.is-bad")
    await expect(failed).to_have_count(1)
    await expect(failed.locator(".log-summary")).to_contain_text("500")
    await expect(failed.locator(".log-summary")).to_contain_text("customer.created")
    await expect(failed.locator(".log-body")).to_contain_text(result.message.id)
    await expect(failed.locator(".log-body")).to_contain_text('"cust_1"')
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Endpoints").click()
    health = page.locator(f"tr[data-endpoint='{endpoint_id}'] [data-health]")
    assert await health.get_attribute("data-health") in ("yellow", "red")

    # Resend once the receiver is fixed: a manual attempt succeeds.
    receiver.statuses["/hook"] = [200]
    await page.goto(f"{api.base_url}/portal/endpoints/{endpoint_id}/logs?status=failed")
    await page.locator(".log-entry.is-bad").first.get_by_role("button", name="Resend").click()
    await expect(page.locator(".notice")).to_contain_text("queued again")
    await attempts_matching(service, app.id, lambda got: any(
        a.succeeded and a.trigger == AttemptTrigger.MANUAL for a in got),
        what="a manual attempt that succeeded", endpoint_id=endpoint_id)
    await page.goto(f"{api.base_url}/portal/endpoints/{endpoint_id}/logs?status=succeeded")
    await expect(page.locator(".log-entry.is-ok").filter(has_text="manual")).to_have_count(1)

    # Rotate the secret: a new one is shown, the old one still signs during the grace period.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("button", name="Rotate").click()
    await expect(page.locator(".notice")).to_contain_text("rotated")
    await page.get_by_role("button", name="Reveal").click()
    await expect(secret_box).not_to_have_text(endpoint.secret)
    rotated = await service.get_endpoint(app.id, endpoint_id)
    await expect(secret_box).to_have_text(rotated.secret)
    assert rotated.previous_secret == endpoint.secret

    # Deactivate and delete, each after confirming; cancelling changes nothing.
    await page.get_by_role("link", name="Deactivate").click()
    await expect(page.get_by_role("heading", name="Deactivate this endpoint?")).to_be_visible()
    await page.get_by_role("link", name="Cancel").click()
    assert not (await service.get_endpoint(app.id, endpoint_id)).disabled
    await page.get_by_role("link", name="Deactivate").click()
    await page.get_by_role("button", name="Deactivate endpoint").click()
    await expect(page.locator(".notice")).to_contain_text("Endpoint deactivated")
    await expect(page.locator(".pills .pill")).to_have_text("Inactive")
    assert (await service.get_endpoint(app.id, endpoint_id)).disabled
    await page.get_by_role("link", name="Delete").click()
    await page.get_by_role("button", name="Delete endpoint").click()
    await expect(page.locator(".notice")).to_contain_text("deleted")
    await expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    with pytest.raises(NotFound):
        await service.get_endpoint(app.id, endpoint_id)


def lambda_free(text: str) -> Any:
    """A pattern matching any value that contains `text` (for to_have_value)."""
    import re

    return re.compile(re.escape(text))
