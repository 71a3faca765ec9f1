"""Erasing content with Svix's four expunge routes, driven by the official Svix SDK, and how
erased content reads back: `{}` and a flag in the API, "Expunged" in the portal."""

from __future__ import annotations

import pytest
from aiohttp import web
from svix.api import BulkExpungeContentsIn, MessageGetOptions, MessageIn
from svix.api.errors.http_error import HttpError

from tests.api.test_svix_sdk import call, svix_client
from tests.e2e.portal import portal_link
from tests.support.api import ApiServer
from tests.support.keepalive import KeepAliveClient
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

SECRET = "zoe@example.com"
WITH_CONTENT = MessageGetOptions(with_content=True)  # the SDK asks for none by default


async def test_the_four_expunge_routes_erase_content_and_it_reads_as_expunged(
        api: ApiServer, receiver: Receiver) -> None:
    receiver.on("/hook", lambda r: web.Response(text=f"thanks, {SECRET}"))
    svix = svix_client(api)
    app = (await api.post("/api/v1/app", {"name": "erasure"})).body["id"]
    ep = (await api.post(f"/api/v1/app/{app}/endpoint", {"url": receiver.url("/hook")})).body
    sent = [await call(svix.message.create, app,
                       MessageIn(event_type="user.created", payload={"email": SECRET, "n": n},
                                 event_id=f"evt-{n}"))
            for n in range(4)]
    service = api.runtime.service
    attempts = {a.message_id: a for a in await attempts_recorded(service, app, 4)}
    portal_page = f"/portal/endpoints/{ep['id']}/logs"
    async with KeepAliveClient("127.0.0.1", api.port) as portal:
        assert (await portal.send("GET", (await portal_link(api, app))
                                  .removeprefix(api.base_url))).status in (302, 303, 307)
        before = await portal.send("GET", portal_page)
        assert before.status == 200 and SECRET in before.text
        assert 'data-test="expunged"' not in before.text

        # One message: its payload and its attempts' content.
        await call(svix.message.expunge_content, app, sent[0].id)
        assert (await call(svix.message.get, app, sent[0].id, WITH_CONTENT)).payload == {}
        raw = (await api.get(f"/api/v1/app/{app}/msg/{sent[0].id}")).body
        assert raw["payload"] == {} and raw["expunged"] is True
        [attempt] = (await api.get(f"/api/v1/app/{app}/attempt/msg/{sent[0].id}")).body["data"]
        assert attempt["response"] == "" and attempt["expunged"] is True
        # One attempt only: the message keeps its payload.
        await call(svix.message_attempt.expunge_content, app, sent[1].id,
                   attempts[sent[1].id].id)
        [attempt] = (await api.get(f"/api/v1/app/{app}/attempt/msg/{sent[1].id}")).body["data"]
        assert attempt["response"] == "" and attempt["expunged"] is True
        kept = await call(svix.message.get, app, sent[1].id, WITH_CONTENT)
        assert kept.payload["email"] == SECRET

        # By id or event id; an unknown one says so.
        bulk = await call(svix.message.bulk_expunge_content, app,
                          BulkExpungeContentsIn(ids=[sent[1].id, "evt-2", "nope"]))
        assert {k: str(getattr(v, "value", v)) for k, v in bulk.results.items()} == {
            sent[1].id: "expunged", "evt-2": "expunged", "nope": "not-found"}
        kept = await call(svix.message.get, app, "evt-3", WITH_CONTENT)
        assert kept.payload["email"] == SECRET

        everything = await call(svix.message.expunge_all_contents, app)
        assert everything.id.startswith("qtask_")
        assert str(getattr(everything.status, "value", everything.status)) == "finished"
        for msg in sent:
            assert (await call(svix.message.get, app, msg.id, WITH_CONTENT)).payload == {}

        after = await portal.send("GET", portal_page)
        assert after.status == 200 and SECRET not in after.text
        assert after.text.count('data-test="expunged"') == 4
        assert after.text.count('data-test="expunged-response"') == 4

    # Expunging is idempotent; what does not exist is a 404.
    await call(svix.message.expunge_content, app, sent[0].id)
    for erase in (lambda: svix.message.expunge_content(app, "msg_missing"),
                  lambda: svix.message_attempt.expunge_content(app, sent[0].id, "atmpt_x")):
        with pytest.raises(HttpError) as refused:
            await call(erase)
        assert refused.value.status_code == 404
