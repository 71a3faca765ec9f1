"""Pull feeds (Svix's poller routes): a consumer process reads 1,000 messages in pages, is
killed mid-way, and a new one resumes exactly where it stood; seek moves it (the Svix SDK's
consumer calls too); another application's token gets 404; a regular endpoint's feed is what
was sent to it; a partner's portal session reads its feed (another application's gets 404)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from svix.api import (
    MessagePollerConsumerPollOptions,
    MessagePollerPollOptions,
    PollingEndpointConsumerSeekIn,
    Svix,
    SvixOptions,
)

from hookline.service.messages import MessageDraft
from hookline.store.base import PublishResult
from tests.e2e.portal import PortalClient, portal_link
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver

MESSAGES = 1000
PAGE = 100
CONSUMER = Path(__file__).parent.parent / "support" / "feed_consumer.py"


async def polling_app(api: ApiServer, batches: int = MESSAGES // 100
                      ) -> tuple[str, str, list[str]]:
    """An application with a polling endpoint for `a.*` and 100 such messages per batch
    (and 100 others it does not select, in the middle); returns its id, the endpoint's and
    the selected message ids."""
    app = (await api.post("/api/v1/app", {"name": "Pull"})).body
    sink = await api.post(f"/api/v1/app/{app['id']}/endpoint",
                          {"url": "poller:", "filterTypes": ["a.*"]})
    assert sink.status == 201, sink.body
    selected = []
    for batch in range(batches + 1):
        event_type = "z.other" if batch == batches // 2 else "a.b"  # skipped mid-feed
        published = await api.runtime.service.publish_batch(
            app["id"], [MessageDraft(event_type, {"n": n}) for n in range(100)])
        if event_type == "a.b":
            selected += [r.message.id for r in published if isinstance(r, PublishResult)]
    assert len(selected) == batches * 100
    return app["id"], sink.body["id"], sorted(selected)


async def run_consumer(api: ApiServer, app_id: str, sink: str, out: Path,
                       hold_after: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(CONSUMER), api.base_url, api.token, app_id, sink, "worker-1",
        str(out), str(hold_after), stdout=asyncio.subprocess.PIPE)


async def test_a_consumer_reads_its_feed_in_pages_and_resumes_exactly_after_dying(
    api: ApiServer, tmp_path: Path,
) -> None:
    app_id, sink, selected = await polling_app(api)
    out = tmp_path / "processed.txt"
    first = await run_consumer(api, app_id, sink, out, hold_after=5)
    assert first.stdout is not None
    assert await asyncio.wait_for(first.stdout.readline(), timeout=30) == b"holding\n"
    first.kill()  # mid-way: its fifth page processed, not acknowledged
    await first.wait()
    second = await run_consumer(api, app_id, sink, out, hold_after=0)
    assert await asyncio.wait_for(second.wait(), timeout=30) == 0

    pages = [line.split() for line in out.read_text().splitlines()]
    assert pages[5] == pages[4]  # the new process starts with the page the dead one held
    assert [m for page in pages[:5] + pages[6:] for m in page] == selected
    assert all(len(page) == PAGE for page in pages[:-1])

    consumer = f"/api/v1/app/{app_id}/poller/{sink}/consumer/worker-1"
    middle = (await api.get(f"/api/v1/app/{app_id}/msg/{selected[len(selected) // 2]}")).body
    svix = Svix(api.token, SvixOptions(server_url=api.base_url))
    sought = await asyncio.to_thread(
        svix.message.poller.consumer_seek, app_id, sink, "worker-1",
        PollingEndpointConsumerSeekIn(after=datetime.fromisoformat(middle["timestamp"])))
    assert sought.iterator
    first_after = (await api.get(f"{consumer}?limit=5")).body["data"]
    assert first_after and first_after[0]["id"] <= middle["id"] <= first_after[-1]["id"]
    by_sdk = await asyncio.to_thread(svix.message.poller.consumer_poll, app_id, sink,
                                     "worker-1", MessagePollerConsumerPollOptions(limit=5))
    assert [m.id for m in by_sdk.data] == [m["id"] for m in first_after]


async def test_another_applications_token_gets_404_and_a_read_only_one_may_read_and_seek(
    api: ApiServer,
) -> None:
    app_id, sink, selected = await polling_app(api, batches=1)
    other = (await api.post("/api/v1/app", {"name": "Other"})).body
    foreign = (await api.post(f"/api/v1/app/{other['id']}/token", {"name": "x"})).body["token"]
    own = (await api.post(f"/api/v1/app/{app_id}/token",
                          {"name": "ro", "readOnly": True})).body["token"]
    feed = f"/api/v1/app/{app_id}/poller/{sink}"
    assert (await api.get(feed, token=foreign)).status == 404
    assert (await api.get(f"{feed}/consumer/c", token=foreign)).status == 404
    page = await api.get(f"{feed}?limit=3", token=own)
    assert [m["id"] for m in page.body["data"]] == selected[:3]
    sought = await api.post(f"{feed}/consumer/c/seek", {"after": "2000-01-01T00:00:00Z"},
                            token=own)
    assert sought.status == 200


async def test_the_svix_sdk_polls_and_a_regular_endpoint_has_a_feed_of_what_it_was_sent(
    api: ApiServer, receiver: Receiver,
) -> None:
    app = (await api.post("/api/v1/app", {"name": "Push"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/p"), "filterTypes": ["x.y"]})).body
    sent = [(await api.post(f"/api/v1/app/{app['id']}/msg",
                            {"eventType": t, "payload": {}})).body["id"]
            for t in ("x.y", "other.type", "x.y")]
    await attempts_recorded(api.runtime.service, app["id"], 2)
    svix = Svix(api.token, SvixOptions(server_url=api.base_url))
    page = await asyncio.to_thread(svix.message.poller.poll, app["id"], ep["id"],
                                   MessagePollerPollOptions(limit=10))
    assert [m.id for m in page.data] == [sent[0], sent[2]]
    assert page.done and page.data[0].timestamp <= datetime.now(UTC)


async def read_with_session(client: PortalClient, path: str) -> list[str]:
    """Every message id of a feed, a page at a time, as a partner's script in the portal
    reads it."""
    read: list[str] = []
    query = "limit=40"
    while True:
        status, text = await client.get(f"{path}?{query}")
        assert status == 200, text
        page = json.loads(text)
        read += [m["id"] for m in page["data"]]
        if page["done"]:
            return read
        query = f"limit=40&iterator={page['iterator']}"


async def test_a_partner_reads_its_feed_with_its_portal_session_and_no_other(
    api: ApiServer,
) -> None:
    app_id, sink, selected = await polling_app(api, batches=1)
    other = await api.runtime.service.create_app("Other")
    feed = f"/portal/endpoints/{sink}/feed"
    partner, stranger = PortalClient(api), PortalClient(api)
    try:
        assert (await partner.get(feed))[0] == 401  # no session yet
        await partner.open(await portal_link(api, app_id))
        await stranger.open(await portal_link(api, other.id))

        assert await read_with_session(partner, feed) == selected
        first = json.loads((await partner.get(f"{feed}?limit=1"))[1])["data"][0]
        assert (first["id"], first["eventType"]) == (selected[0], "a.b") and "n" in first["payload"]
        status, text = await stranger.get(feed)
        assert status == 404 and json.loads(text)["status"] == 404
    finally:
        await partner.close()
        await stranger.close()


async def test_a_position_at_a_messages_own_time_never_skips_it(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A seek makes its position from a time (`feed.position_at`), and ids sort by time: a
    message's id must never carry an earlier time than its `created_at`, however long a
    loaded machine pauses between the two (here 3 ms after each id is made)."""
    import time

    from hookline import ids
    from hookline.service.feed import position_at

    made = ids.new_id

    def slow_new_id(prefix: str, **kwargs: float) -> str:
        value = made(prefix, **kwargs)
        time.sleep(0.003)
        return value

    monkeypatch.setattr(ids, "new_id", slow_new_id)
    app = await api.runtime.service.create_app("positions")
    for n in range(5):
        published = await api.runtime.service.publish(app.id, "a.b", {"n": n})
        message = published.message
        assert message.id > position_at(message.created_at), (message.id, message.created_at)
