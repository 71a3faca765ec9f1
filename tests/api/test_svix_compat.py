"""`HOOKLINE_COMPAT=svix`: a receiver written for Svix gets what Svix sends.

Svix sends the payload unwrapped, as compact JSON, signed in `svix-id`, `svix-timestamp` and
`svix-signature`; its own library's `Webhook.verify` must accept the request as it arrives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from svix.api import ApplicationIn, EndpointIn, MessageIn, Svix, SvixOptions
from svix.webhooks import Webhook

from tests.support.api import ApiServer
from tests.support.polling import wait_until
from tests.support.receiver import Received, Receiver
from tests.support.shared_api import shared_api_fixture

pytestmark = pytest.mark.asyncio(loop_scope="module")
module_database_url, api = shared_api_fixture(compat="svix")
PAYLOAD = {"user": "ünïcode", "amount": 12.5, "items": [1, 2, {"deep": None}]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver(api: ApiServer) -> AsyncIterator[Receiver]:
    """One per database (it depends on `api`), so each sees only its own deliveries."""
    rec = await Receiver().start()
    yield rec
    await rec.stop()


def _sdk(api: ApiServer) -> Svix:
    return Svix(api.token, SvixOptions(server_url=api.base_url, retry_schedule=[]))


async def _delivered(api: ApiServer, receiver: Receiver, path: str,
                     endpoint: dict[str, Any] | None = None) -> tuple[Received, str]:
    """Create an endpoint at `path` (through the Svix SDK unless `endpoint` gives Hookline's
    own fields), publish PAYLOAD to it, and return what the receiver got and the secret."""
    sdk = _sdk(api)
    app = await asyncio.to_thread(sdk.application.create, ApplicationIn(name=f"compat {path}"))
    if endpoint is None:
        ep_id = (await asyncio.to_thread(sdk.endpoint.create, app.id,
                                         EndpointIn(url=receiver.url(path)))).id
    else:
        ep_id = (await api.post(f"/api/v1/app/{app.id}/endpoint",
                                {"url": receiver.url(path), **endpoint})).body["id"]
    secret = (await asyncio.to_thread(sdk.endpoint.get_secret, app.id, ep_id)).key
    await asyncio.to_thread(sdk.message.create, app.id,
                            MessageIn(event_type="user.signup", payload=PAYLOAD))
    await wait_until(lambda: receiver.at(path), what=f"a delivery to {path}")
    return receiver.at(path)[0], secret


async def test_svixs_own_verify_accepts_the_request_and_the_body_is_the_payload(
        api: ApiServer, receiver: Receiver) -> None:
    got, secret = await _delivered(api, receiver, "/svix")

    Webhook(secret).verify(got.body, got.headers)  # raises if not accepted

    assert got.body == json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()
    names = {name.lower() for name in got.headers}
    assert {"svix-id", "svix-timestamp", "svix-signature"} <= names
    assert not names & {"webhook-id", "webhook-timestamp", "webhook-signature"}


async def test_an_endpoint_that_chooses_hooklines_envelope_and_headers_still_gets_them(
        api: ApiServer, receiver: Receiver) -> None:
    got, _ = await _delivered(api, receiver, "/standard",
                              {"envelope": "standard", "signatureHeaders": "webhook"})

    body = json.loads(got.body)
    assert (body["type"], body["data"]) == ("user.signup", PAYLOAD)
    assert "webhook-signature" in {name.lower() for name in got.headers}


async def test_both_header_sets_verify_with_either_library(api: ApiServer,
                                                           receiver: Receiver) -> None:
    from standardwebhooks import Webhook as StandardWebhook

    got, secret = await _delivered(api, receiver, "/both", {"signatureHeaders": "both"})

    Webhook(secret).verify(got.body, got.headers)
    only_standard = {k: v for k, v in got.headers.items() if not k.lower().startswith("svix-")}
    StandardWebhook(secret).verify(got.body, only_standard)


async def test_new_endpoints_show_the_defaults_they_were_given(api: ApiServer,
                                                               receiver: Receiver) -> None:
    app = (await api.post("/api/v1/app", {"name": "compat defaults"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/shown")})).body

    assert (ep["envelope"], ep["signatureHeaders"]) == ("raw", "svix")
