"""The publishes' short path (api/short_publish.py): a plain publish or batch is answered without
FastAPI's dependency machinery, as the route would answer it; everything else reaches the
route with its body intact, on the same keep-alive connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest

from tests.support.api import ApiServer

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MESSAGE = {"eventType": "user.created", "payload": {"n": 1, "text": "é"}, "channels": ["a"]}


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the requests FastAPI solved a route's dependencies for."""
    seen: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*, request: Any, **kwargs: Any) -> Any:
        seen.append(request.url.path)
        return await solve(request=request, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    yield seen


async def _app(api: ApiServer) -> str:
    app = await api.post("/api/v1/app", {"name": "short"})
    await api.post(f"/api/v1/app/{app.body['id']}/endpoint", {"url": "http://127.0.0.1:9/"})
    return str(app.body["id"])


async def test_plain_publish_skips_the_framework_and_answers_as_the_route_does(
        api: ApiServer, routed: list[str]) -> None:
    app = await _app(api)
    routed.clear()
    short = await api.post(f"/api/v1/app/{app}/msg", MESSAGE)
    assert routed == []
    framework = await api.post(f"/api/v1/app/{app}/msg?with_content=true", MESSAGE)
    assert routed == [f"/api/v1/app/{app}/msg"]

    assert short.status == framework.status == 202
    assert short.headers["Content-Type"] == framework.headers["Content-Type"]
    assert short.body.keys() == framework.body.keys()
    for answer in (short, framework):
        assert answer.body["payload"] == MESSAGE["payload"]
        assert answer.body["timestamp"].endswith("Z")
    assert short.body["id"] != framework.body["id"]


async def test_a_repeated_idempotency_key_on_the_short_path_gets_the_first_message(
        api: ApiServer, routed: list[str]) -> None:
    app = await _app(api)
    routed.clear()
    first = await api.post(f"/api/v1/app/{app}/msg", MESSAGE, headers={"idempotency-key": "k1"})
    again = await api.post(f"/api/v1/app/{app}/msg", MESSAGE, headers={"idempotency-key": "k1"})
    assert (first.status, again.status) == (202, 200)
    assert again.body["id"] == first.body["id"]
    assert routed == []


@pytest.mark.parametrize(("body", "headers", "status", "field"), [
    (b'{"eventType": "a.b", "payload": {}, "color": 1}', {}, 422, "color"),
    (b'{"eventType": "a.b", "payload": ', {}, 400, None),
    (b'{"eventType": "a.b", "payload": {}}', {"idempotency-key": "k" * 257}, 422,
     "idempotency-key"),
    (b'{"eventType": "a.b", "payload": {}}', {"authorization": "Bearer nope"}, 401, None),
])
async def test_what_the_short_path_refuses_reaches_the_route_with_its_body(
        api: ApiServer, routed: list[str], body: bytes, headers: dict[str, str], status: int,
        field: str | None) -> None:
    app = await _app(api)
    routed.clear()
    refused = await api.post(f"/api/v1/app/{app}/msg", data=body, headers=headers)
    assert refused.status == status, refused.body
    assert refused.headers["Content-Type"] == "application/problem+json"
    if field is not None:
        assert refused.body["field"] == field
    if status != 400:  # the route's own answer to a body it could read
        assert routed == [f"/api/v1/app/{app}/msg"]
    after = await api.post(f"/api/v1/app/{app}/msg", MESSAGE)  # same keep-alive session
    assert after.status == 202


async def test_a_refusal_by_the_publish_itself_is_the_routes_problem(
        api: ApiServer, routed: list[str]) -> None:
    app = await _app(api)
    routed.clear()
    refused = await api.post(f"/api/v1/app/{app}/msg",
                             data=b'{"eventType": "a.b", "payload": {"x": NaN}}')
    assert refused.status == 422, refused.body
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.body["field"] == "payload.x"
    assert routed == []


BATCH = {"messages": [MESSAGE, {"eventType": "a.b", "payload": {}, "color": 1},
                      {**MESSAGE, "idempotencyKey": "item-1"}]}


async def test_a_plain_batch_skips_the_framework_and_answers_as_the_route_does(
        api: ApiServer, routed: list[str]) -> None:
    app = await _app(api)
    routed.clear()
    short = await api.post(f"/api/v1/app/{app}/msg/batch", BATCH)
    assert routed == []
    framework = await api.post(f"/api/v1/app/{app}/msg/batch?with_content=true", BATCH)
    assert routed == [f"/api/v1/app/{app}/msg/batch"]

    assert short.status == framework.status == 200
    assert short.headers["Content-Type"] == framework.headers["Content-Type"]
    assert [i["outcome"] for i in short.body["data"]] == ["created", "refused", "created"]
    assert [i["outcome"] for i in framework.body["data"]] == ["created", "refused", "existing"]
    assert short.body["data"][1] == framework.body["data"][1]  # the same problem, index 1
    assert framework.body["data"][2]["message"]["id"] == short.body["data"][2]["message"]["id"]
    assert short.body["data"][0]["message"]["payload"] == MESSAGE["payload"]


async def test_a_batch_under_an_idempotency_key_goes_to_the_route_which_replays_it(
        api: ApiServer, routed: list[str]) -> None:
    app = await _app(api)
    routed.clear()
    headers = {"idempotency-key": "batch-1"}
    first = await api.post(f"/api/v1/app/{app}/msg/batch", BATCH, headers=headers)
    again = await api.post(f"/api/v1/app/{app}/msg/batch", BATCH, headers=headers)
    assert routed == [f"/api/v1/app/{app}/msg/batch"] * 2
    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b'{"messages": []}', {}, 422),
    (b'{"messages": [', {}, 400),
    (b'{"messages": [{"eventType": "a.b", "payload": {}}]}', {"authorization": "Bearer nope"},
     401),
])
async def test_what_the_short_path_refuses_of_a_batch_reaches_the_route_with_its_body(
        api: ApiServer, routed: list[str], body: bytes, headers: dict[str, str],
        status: int) -> None:
    app = await _app(api)
    routed.clear()
    refused = await api.post(f"/api/v1/app/{app}/msg/batch", data=body, headers=headers)
    assert refused.status == status, refused.body
    assert refused.headers["Content-Type"] == "application/problem+json"
    if status != 400:
        assert routed == [f"/api/v1/app/{app}/msg/batch"]
    after = await api.post(f"/api/v1/app/{app}/msg/batch", BATCH)  # same keep-alive session
    assert after.status == 200
