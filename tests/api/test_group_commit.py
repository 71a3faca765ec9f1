"""Group commit over real HTTP, on both databases: single publishes that arrive while a write
is in flight share the next store write, and each is answered as if it had been published
alone (service/group_commit.py).

The store's `publish_batch` is wrapped to record the size of every write and to hold the
first one until the test lets it go, so that what queues behind it is known."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hookline.runtime import Runtime
from hookline.store.base import Store
from tests.support.api import ADMIN_TOKEN, ApiServer, Response, make_settings
from tests.support.metrics import value
from tests.support.polling import wait_until


class HeldWrites:
    """Every store publish's size, in order, since `hold_next()`; the first one after it
    waits for `release()`."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self._gate = asyncio.Event()
        self._gate.set()
        self._hold = False
        real = store.publish_batch

        async def publish_batch(drafts: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
            self.sizes.append(len(drafts))
            if self._hold:
                self._hold = False
                await self._gate.wait()
            return await real(drafts, *args, **kwargs)

        monkeypatch.setattr(store, "publish_batch", publish_batch)

    def hold_next(self) -> None:
        self.sizes.clear()
        self._gate.clear()
        self._hold = True

    def release(self) -> None:
        self._gate.set()


@pytest.fixture
def writes(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldWrites]:
    held = HeldWrites(api.runtime.store, monkeypatch)
    yield held
    held.release()  # a test that failed holding it must not keep the server from stopping


async def _app(api: ApiServer) -> tuple[str, dict[str, str]]:
    """An application with three endpoints: every order, channel b only, everything."""
    app = str((await api.post("/api/v1/app", {"name": "grouped"})).body["id"])
    endpoints = {}
    for name, options in (("orders", {"filterTypes": ["order.created"]}),
                          ("b", {"channels": ["b"]}), ("all", {})):
        created = await api.post(f"/api/v1/app/{app}/endpoint",
                                 {"url": f"http://127.0.0.1:9/{name}", **options})
        endpoints[name] = created.body["id"]
    # One publish first: the one that finds the configuration moved (the endpoints just
    # made) and decides again, so that no later publish of the test has to.
    warm = await api.post(f"/api/v1/app/{app}/msg", {"eventType": "warm.up", "payload": {}})
    assert warm.status == 202
    return app, endpoints


async def _in_a_group(api: ApiServer, writes: HeldWrites, app: str,
                      bodies: list[tuple[dict[str, Any], dict[str, str]]],
                      meanwhile: Callable[[], Awaitable[object]] | None = None,
                      ) -> list[Response]:
    """Publish one message whose write is held, then `bodies` at once; release the write
    once all of them wait for it (and `meanwhile` is done). The answers to `bodies`."""
    writes.hold_next()
    first = asyncio.create_task(api.post(f"/api/v1/app/{app}/msg",
                                         {"eventType": "first.one", "payload": {}}))
    await wait_until(lambda: writes.sizes, what="the first write, held")
    rest = [asyncio.create_task(api.post(f"/api/v1/app/{app}/msg", body, headers=headers))
            for body, headers in bodies]
    groups = api.runtime.service.publish_groups
    assert groups is not None
    await wait_until(lambda: groups.pending == 1 + len(bodies), what="every publish queued")
    if meanwhile is not None:
        await meanwhile()
    writes.release()
    assert (await first).status == 202
    return list(await asyncio.gather(*rest))


async def _group_sizes(api: ApiServer) -> tuple[float, float]:
    """The group-size histogram's (count, sum): writes, and the publishes they held."""
    text = str((await api.get("/metrics")).body)
    return (value(text, "hookline_publish_group_size_count"),
            value(text, "hookline_publish_group_size_sum"))


async def _destinations(api: ApiServer, app: str, message_id: str) -> set[str]:
    listed = await api.get(f"/api/v1/app/{app}/msg/{message_id}/endpoint")
    return {e["id"] for e in listed.body["data"]}


async def test_concurrent_publishes_share_one_write_each_with_its_own_message_and_fanout(
        api: ApiServer, writes: HeldWrites) -> None:
    app, endpoints = await _app(api)
    before = await _group_sizes(api)
    bodies = [({"eventType": "order.created" if n % 2 else "user.created",
                "payload": {"n": n}, "channels": ["b"] if n % 3 == 0 else ["a"],
                "orderingKey": f"object-{n % 2}", "eventId": f"e-{n}"}, {}) for n in range(8)]

    answers = await _in_a_group(api, writes, app, bodies)

    assert writes.sizes == [1, 8]
    assert [a.status for a in answers] == [202] * 8
    assert len({a.body["id"] for a in answers}) == 8
    for (body, _), answer in zip(bodies, answers, strict=True):
        for name in ("eventType", "payload", "channels", "orderingKey", "eventId"):
            assert answer.body[name] == body[name]
        expected = {endpoints["all"]}
        if body["eventType"] == "order.created":
            expected.add(endpoints["orders"])
        if body["channels"] == ["b"]:
            expected.add(endpoints["b"])
        assert await _destinations(api, app, answer.body["id"]) == expected
    after = await _group_sizes(api)
    assert (after[0] - before[0], after[1] - before[1]) == (2, 9)  # two writes, nine publishes


async def test_a_publish_refused_in_a_group_refuses_only_itself(
        api: ApiServer, writes: HeldWrites) -> None:
    app, _ = await _app(api)
    imported = await api.post("/api/v1/event-type/import", {"eventTypes": [
        {"name": "order.paid", "schema": {"type": "object", "required": ["amount"]}}]})
    assert imported.status < 300
    taken = await api.post(f"/api/v1/app/{app}/msg",
                           {"eventType": "user.created", "payload": {}, "eventId": "taken"})
    assert taken.status == 202
    bodies = [({"eventType": "user.created", "payload": {"n": n}, **extra}, {})
              for n, extra in enumerate([{}, {"eventId": "taken"}, {}, {"eventId": "twin"},
                                         {"eventId": "twin"}])]

    async def refused_by_the_catalogue_before_any_write() -> Response:
        await wait_until(lambda: writes.sizes == [1], what="the first write, held")
        return await api.post(f"/api/v1/app/{app}/msg",
                              {"eventType": "order.paid", "payload": {"n": 1}})

    schema_refusal = asyncio.create_task(refused_by_the_catalogue_before_any_write())
    answers = await _in_a_group(api, writes, app, bodies)

    assert (await schema_refusal).status == 422
    assert [answers[n].status for n in (0, 1, 2)] == [202, 409, 202]
    assert answers[1].body["field"] == "eventId"
    assert answers[1].headers["Content-Type"] == "application/problem+json"
    assert sorted(answers[n].status for n in (3, 4)) == [202, 409]
    # The group's write, refused as a whole, then each of its five publishes alone.
    assert writes.sizes == [1, 5, 1, 1, 1, 1, 1]
    listed = await api.get(f"/api/v1/app/{app}/msg?limit=50")
    # The warm-up, taken, the first one, and three of the five.
    assert len(listed.body["data"]) == 1 + 1 + 1 + 3


async def test_publishes_with_one_idempotency_key_in_a_group_get_one_message(
        api: ApiServer, writes: HeldWrites) -> None:
    app, _ = await _app(api)
    earlier = await api.post(f"/api/v1/app/{app}/msg", {"eventType": "user.created",
                                                        "payload": {"n": 0}},
                             headers={"idempotency-key": "earlier"})
    body = {"eventType": "user.created", "payload": {"n": 1}}
    bodies = [(body, {"idempotency-key": "shared"}), (body, {"idempotency-key": "shared"}),
              (body, {"idempotency-key": "earlier"}), (body, {})]

    answers = await _in_a_group(api, writes, app, bodies)

    assert writes.sizes == [1, 4]
    shared = answers[:2]
    assert sorted(a.status for a in shared) == [200, 202]
    assert shared[0].body["id"] == shared[1].body["id"]
    assert (answers[2].status, answers[2].body["id"]) == (200, earlier.body["id"])
    assert answers[3].status == 202
    listed = await api.get(f"/api/v1/app/{app}/msg?limit=50")
    # The warm-up, earlier, the first one, shared once, the unkeyed one.
    assert len(listed.body["data"]) == 5


async def test_a_group_checked_against_a_configuration_that_moved_is_decided_again(
        api: ApiServer, writes: HeldWrites) -> None:
    app, endpoints = await _app(api)
    added: list[str] = []

    async def add_an_endpoint() -> None:
        created = await api.post(f"/api/v1/app/{app}/endpoint", {"url": "http://127.0.0.1:9/new"})
        added.append(created.body["id"])

    bodies = [({"eventType": "user.created", "payload": {"n": n}}, {}) for n in range(4)]
    answers = await _in_a_group(api, writes, app, bodies, meanwhile=add_an_endpoint)

    assert writes.sizes[:2] == [1, 4]  # both refused as stale, then each publish again
    assert sum(writes.sizes[2:]) == 5
    assert [a.status for a in answers] == [202] * 4
    for answer in answers:
        assert await _destinations(api, app, answer.body["id"]) == {endpoints["all"], added[0]}


async def test_publishes_one_after_another_are_each_written_alone(
        api: ApiServer, writes: HeldWrites) -> None:
    app, _ = await _app(api)
    writes.hold_next()
    writes.release()
    for n in range(3):
        answer = await api.post(f"/api/v1/app/{app}/msg",
                                {"eventType": "user.created", "payload": {"n": n}})
        assert answer.status == 202

    assert writes.sizes == [1, 1, 1]


async def test_with_group_commit_off_each_concurrent_publish_is_its_own_write(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = await Runtime.start(make_settings(database_url, tmp_path, group_commit=False))
    await runtime.service.ensure_admin_token()
    api = await ApiServer(runtime, ADMIN_TOKEN).start()
    try:
        app, _ = await _app(api)
        writes = HeldWrites(runtime.store, monkeypatch)
        writes.hold_next()
        first = asyncio.create_task(api.post(f"/api/v1/app/{app}/msg",
                                             {"eventType": "first.one", "payload": {}}))
        await wait_until(lambda: writes.sizes, what="the first write, held")
        try:
            others = [await api.post(f"/api/v1/app/{app}/msg",
                                     {"eventType": "user.created", "payload": {"n": n}})
                      for n in range(3)]  # answered while the first write is still held
        finally:
            writes.release()

        assert [o.status for o in others] == [202] * 3
        assert (await first).status == 202
        assert writes.sizes == [1, 1, 1, 1]
    finally:
        await api.stop()
        await runtime.stop()
