"""replay-missing and bulk-replay over the real API on both databases: windows and filters,
nothing sent twice, dry runs that count what is then sent, Svix's background-task states,
and the official Svix SDK driving both."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from svix.api import BulkReplayIn, ReplayIn, Svix, SvixOptions

from tests.api.test_operational import events, operational_endpoint
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded, wait_until
from tests.support.receiver import Receiver


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass
class History:
    """An endpoint that got three messages, failed three (500, on channel `storm`) and
    missed two while disabled; now it answers 200 again."""

    base: str
    endpoint: str
    start: float
    delivered: list[str]
    failed: list[str]
    never_sent: list[str]
    dark_from: float


async def publish(api: ApiServer, base: str, event_type: str, count: int,
                  channels: list[str] | None = None) -> list[str]:
    ids = []
    for n in range(count):
        msg = await api.post(f"{base}/msg", {"eventType": event_type, "payload": {"n": n},
                                             "channels": channels})
        assert msg.status == 202, msg.body
        ids.append(msg.body["id"])
    return ids


async def history(api: ApiServer, receiver: Receiver) -> History:
    service = api.runtime.service
    app = (await api.post("/api/v1/app", {"name": "Replays"})).body
    base = f"/api/v1/app/{app['id']}"
    ep = (await api.post(f"{base}/endpoint", {"url": receiver.url("/r"),
                                               "retrySchedule": []})).body
    start = service.clock() - 1
    delivered = await publish(api, base, "ok.sent", 3)
    await attempts_recorded(service, app["id"], 3)
    receiver.statuses["/r"] = [500]
    failed = await publish(api, base, "bad.sent", 3, channels=["storm"])
    await attempts_recorded(service, app["id"], 6)
    await api.patch(f"{base}/endpoint/{ep['id']}", {"disabled": True})
    dark_from = service.clock()
    never_sent = await publish(api, base, "bad.sent", 2)
    await api.patch(f"{base}/endpoint/{ep['id']}", {"disabled": False})
    receiver.statuses["/r"] = [200]
    return History(base, ep["id"], start, delivered, failed, never_sent, dark_from)


async def finished(api: ApiServer, task: dict[str, Any]) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        got = (await api.get(f"/api/v1/background-task/{task['id']}")).body
        return got if got["status"] == "finished" else None

    result: dict[str, Any] = await wait_until(done, what="the background task to finish")
    return result


async def test_replay_missing_sends_what_the_endpoint_never_got_once_and_dry_run_counts_it(
    api: ApiServer, receiver: Receiver
) -> None:
    _, ops_secret = await operational_endpoint(api, receiver, "/ops",
                                               filterTypes=["message.attempt.recovered"])
    h = await history(api, receiver)
    url = f"{h.base}/endpoint/{h.endpoint}/replay-missing"
    missed = h.failed + h.never_sent

    preview = await api.post(url, {"since": iso(h.start), "dryRun": True})
    assert preview.status == 200
    assert preview.body == {"dryRun": True, "count": 5, "firstIds": missed}
    before_dark = await api.post(url, {"since": iso(h.start), "until": iso(h.dark_from),
                                       "dryRun": True})
    assert before_dark.body["firstIds"] == h.failed

    started = await api.post(url, {"since": iso(h.start)})
    assert started.status == 202
    assert started.body["task"] == "endpoint.replay"
    assert started.body["status"] in ("running", "finished")
    assert (await finished(api, started.body))["data"] == {"messagesSent": 5}
    await wait_until(lambda: len(receiver.at("/r")) == 6 + 5, what="the replayed messages")
    resent = [r.headers["webhook-id"] for r in receiver.at("/r")[6:]]
    assert sorted(resent) == sorted(missed)

    again = await api.post(url, {"since": iso(h.start)})
    assert (await finished(api, again.body))["data"] == {"messagesSent": 0}
    # Those that had failed recovered; those never sent did not.
    await receiver.wait_for(len(h.failed), "/ops")
    recovered = events(receiver, "/ops", ops_secret)
    assert sorted(e["data"]["msgId"] for e in recovered) == sorted(h.failed)
    assert {e["type"] for e in recovered} == {"message.attempt.recovered"}
    assert recovered[0]["data"]["lastAttempt"]["responseStatusCode"] == 200


async def test_bulk_replay_resends_what_the_filters_select_and_dry_run_counts_the_same(
    api: ApiServer, receiver: Receiver
) -> None:
    h = await history(api, receiver)
    url = f"{h.base}/endpoint/{h.endpoint}/bulk-replay"
    since = iso(h.start)

    succeeded = await api.post(url, {"since": since, "status": 0, "dryRun": True})
    assert succeeded.body["firstIds"] == h.delivered
    server_errors = await api.post(url, {"since": since, "statusCodeClass": 500,
                                         "dryRun": True})
    assert server_errors.body["firstIds"] == h.failed
    by_type = await api.post(url, {"since": since, "eventTypes": ["ok.sent"],
                                   "until": iso(h.dark_from), "dryRun": True})
    assert by_type.body["count"] == 3
    assert (await api.post(url, {"since": since, "tag": "none", "dryRun": True})
            ).body["count"] == 0
    in_channel = await api.post(url, {"since": since, "channel": "storm", "dryRun": True})
    assert in_channel.body["firstIds"] == h.failed

    started = await api.post(url, {"since": since, "status": 0})
    assert started.status == 202 and started.body["task"] == "endpoint.bulk-replay"
    assert (await finished(api, started.body))["data"] == {"messagesSent": 3}
    await wait_until(lambda: len(receiver.at("/r")) == 6 + 3, what="the replayed messages")
    assert sorted(r.headers["webhook-id"] for r in receiver.at("/r")[6:]) == sorted(h.delivered)


async def test_the_svix_sdk_replays_missing_and_bulk(api: ApiServer, receiver: Receiver) -> None:
    h = await history(api, receiver)
    app_id = h.base.rsplit("/", 1)[1]
    svix = Svix(api.token, SvixOptions(server_url=api.base_url))
    since = datetime.fromtimestamp(h.start, UTC)

    replay = await asyncio.to_thread(svix.endpoint.replay_missing, app_id, h.endpoint,
                                     ReplayIn(since=since))
    task = await asyncio.to_thread(svix.background_task.get, replay.id)
    await finished(api, {"id": replay.id})
    task = await asyncio.to_thread(svix.background_task.get, replay.id)
    assert task.data == {"messagesSent": 5}
    bulk = await asyncio.to_thread(svix.endpoint.bulk_replay, app_id, h.endpoint,
                                   BulkReplayIn(since=since, event_types=["ok.sent"]))
    await finished(api, {"id": bulk.id})
    task = await asyncio.to_thread(svix.background_task.get, bulk.id)
    assert task.data == {"messagesSent": 3}
