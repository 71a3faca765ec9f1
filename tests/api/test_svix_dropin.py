"""The Svix fields and parameters Hookline used to accept and ignore, driven through the
official Svix Python SDK: each must do what Svix documents (issue #17)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointUpsertIn,
    Ordering,
    Svix,
    SvixOptions,
)
from svix.api.errors.http_error import HttpError
from svix.api.errors.http_validation_error import HTTPValidationError

from tests.support.api import ApiServer
from tests.support.shared_api import shared_api_fixture

pytestmark = pytest.mark.asyncio(loop_scope="module")
module_database_url, api = shared_api_fixture()
T = TypeVar("T")
_names = itertools.count()


def sdk(api: ApiServer) -> Svix:
    # No SDK retries: a 5xx must fail the test, not be retried into a pass.
    return Svix(api.token, SvixOptions(server_url=api.base_url, retry_schedule=[]))


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


async def new_app(api: ApiServer) -> str:
    return (await call(sdk(api).application.create, ApplicationIn(name=unique("app")))).id


# -- lists: order, prevIterator, bad iterators ---------------------------------------------
async def test_endpoints_list_in_either_order_and_page_back_with_prev_iterator(
        api: ApiServer) -> None:
    svix = sdk(api)
    app_id = await new_app(api)
    created = sorted([(await call(svix.endpoint.create, app_id,
                                  EndpointIn(url=f"https://example.com/{n}"))).id
                      for n in range(3)])  # ids sort by creation time

    newest = await call(svix.endpoint.list, app_id,
                        EndpointListOptions(order=Ordering.DESCENDING, limit=2))
    oldest = await call(svix.endpoint.list, app_id, EndpointListOptions(limit=2))
    rest = await call(svix.endpoint.list, app_id,
                      EndpointListOptions(limit=2, iterator=oldest.iterator))
    back = await call(svix.endpoint.list, app_id,
                      EndpointListOptions(limit=2, iterator=rest.prev_iterator))

    assert [e.id for e in newest.data] == created[::-1][:2]
    assert [e.id for e in oldest.data] == created[:2]
    assert [e.id for e in rest.data] == created[2:]
    assert rest.done
    assert [e.id for e in back.data] == created[:2]


async def test_applications_list_descending(api: ApiServer) -> None:
    svix = sdk(api)
    first, second = await new_app(api), await new_app(api)

    page = await call(svix.application.list,
                      ApplicationListOptions(order=Ordering.DESCENDING, limit=2))

    assert [a.id for a in page.data] == sorted([first, second], reverse=True)


@pytest.mark.parametrize("query", ["iterator=not-an-id", "iterator=ep_short", "order=sideways",
                                   "iterator=-"])
async def test_an_invalid_iterator_or_order_is_a_422(api: ApiServer, query: str) -> None:
    app_id = await new_app(api)

    got = await api.get(f"/api/v1/app/{app_id}/endpoint?{query}")

    assert got.status == 422, got.body
    assert got.body["field"] in ("iterator", "order")


async def test_event_types_list_checks_its_iterator_and_honours_order(api: ApiServer) -> None:
    for name in ("zz.order.a", "zz.order.b"):
        await api.post("/api/v1/event-type", {"name": name, "description": "d"})

    bad = await api.get("/api/v1/event-type?iterator=has%20space")
    newest = (await api.get("/api/v1/event-type?order=descending&limit=2")).body

    assert bad.status == 422
    assert [e["name"] for e in newest["data"]] == ["zz.order.b", "zz.order.a"]


# -- upserts -------------------------------------------------------------------------------
async def test_put_on_a_missing_application_creates_it_with_that_uid(api: ApiServer) -> None:
    uid = unique("upserted")

    created = await api.put(f"/api/v1/app/{uid}", {"name": "made by PUT"})
    again = await api.put(f"/api/v1/app/{uid}", {"name": "renamed"})

    assert (created.status, created.body["uid"]) == (201, uid)
    assert (again.status, again.body["id"], again.body["name"]) == (
        200, created.body["id"], "renamed")


async def test_put_on_a_missing_endpoint_creates_it_through_the_sdk(api: ApiServer) -> None:
    svix = sdk(api)
    app_id = await new_app(api)

    made = await call(svix.endpoint.upsert, app_id, "billing-hook",
                      EndpointUpsertIn(url="https://example.com/billing"))
    changed = await call(svix.endpoint.upsert, app_id, "billing-hook",
                         EndpointUpsertIn(url="https://example.com/billing/v2"))

    assert made.uid == "billing-hook"
    assert (changed.id, changed.url) == (made.id, "https://example.com/billing/v2")


async def test_put_on_a_missing_hookline_id_is_still_a_404(api: ApiServer) -> None:
    app_id = await new_app(api)

    app = await api.put("/api/v1/app/app_0000000000000000000000000", {"name": "x"})
    ep = await api.put(f"/api/v1/app/{app_id}/endpoint/ep_0000000000000000000000000",
                       {"url": "https://example.com/x"})

    assert (app.status, ep.status) == (404, 404)


async def test_an_applications_token_cannot_create_applications_by_put(api: ApiServer) -> None:
    app_id = await new_app(api)
    token = (await api.post(f"/api/v1/app/{app_id}/token", {"name": "t"})).body["token"]

    got = await api.put(f"/api/v1/app/{unique('other')}", {"name": "x"}, token=token)

    assert got.status == 404


# -- endpoints: throttleRate and rateLimit ---------------------------------------------------
async def test_an_endpoints_throttle_rate_is_stored_and_returned(api: ApiServer) -> None:
    svix = sdk(api)
    app_id = await new_app(api)

    made = await call(svix.endpoint.create, app_id,
                      EndpointIn(url="https://example.com/rate", throttle_rate=7))
    patched = await call(svix.endpoint.patch, app_id, made.id, EndpointPatch(throttle_rate=9))
    kept = await call(svix.endpoint.patch, app_id, made.id, EndpointPatch(description="d"))
    raw = (await api.get(f"/api/v1/app/{app_id}/endpoint/{made.id}")).body
    by_old_name = (await api.post(f"/api/v1/app/{app_id}/endpoint",
                                  {"url": "https://example.com/r2", "rateLimit": 3})).body

    assert (made.throttle_rate, patched.throttle_rate, kept.throttle_rate) == (7, 9, 9)
    assert (raw["rateLimit"], raw["throttleRate"]) == (9, 9)
    assert (by_old_name["rateLimit"], by_old_name["throttleRate"]) == (3, 3)


async def test_a_sdk_error_names_the_refused_rate(api: ApiServer) -> None:
    app_id = await new_app(api)

    with pytest.raises(HTTPValidationError) as refused:
        await call(sdk(api).endpoint.create, app_id,
                   EndpointIn(url="https://example.com/r", throttle_rate=0))

    assert refused.value.detail[0].loc == ["body", "throttleRate"]


# -- messages: deliverAt, tags, eventId, inline application ---------------------------------
async def test_a_message_with_deliver_at_is_not_sent_before_it(api: ApiServer) -> None:
    from datetime import UTC, datetime, timedelta

    from svix.api import MessageIn

    from tests.support.receiver import Receiver

    receiver = await Receiver().start()
    try:
        svix = sdk(api)
        app_id = await new_app(api)
        await call(svix.endpoint.create, app_id, EndpointIn(url=receiver.url("/later")))
        later = datetime.now(UTC) + timedelta(hours=1)
        soon = datetime.now(UTC) + timedelta(milliseconds=300)

        held = await call(svix.message.create, app_id,
                          MessageIn(event_type="a.held", payload={"n": 1}, deliver_at=later))
        await call(svix.message.create, app_id,
                   MessageIn(event_type="a.soon", payload={"n": 2}, deliver_at=soon))
        from tests.support.polling import wait_until

        await wait_until(lambda: receiver.at("/later"), what="the message due soon")
        fetched = await call(svix.message.get, app_id, held.id)

        assert [json.loads(r.body)["type"] for r in receiver.at("/later")] == ["a.soon"]
        assert held.deliver_at is not None and abs(held.deliver_at - later) < timedelta(
            seconds=1)
        assert fetched.deliver_at == held.deliver_at
    finally:
        await receiver.stop()


async def test_tags_are_returned_and_filter_the_message_list(api: ApiServer) -> None:
    from svix.api import MessageIn, MessageListOptions

    svix = sdk(api)
    app_id = await new_app(api)
    tagged = await call(svix.message.create, app_id,
                        MessageIn(event_type="a.b", payload={}, tags=["project_1", "eu"]))
    await call(svix.message.create, app_id, MessageIn(event_type="a.b", payload={}))

    listed = await call(svix.message.list, app_id, MessageListOptions(tag="eu"))
    bad = await api.post(f"/api/v1/app/{app_id}/msg",
                         {"eventType": "a.b", "payload": {}, "tags": ["has space"]})

    assert tagged.tags == ["project_1", "eu"]
    assert [m.id for m in listed.data] == [tagged.id]
    assert (bad.status, bad.body["field"]) == (422, "tags")


async def test_a_second_message_with_the_same_event_id_is_a_409(api: ApiServer) -> None:
    from svix.api import MessageIn

    svix = sdk(api)
    app_id, other_app = await new_app(api), await new_app(api)
    first = await call(svix.message.create, app_id,
                       MessageIn(event_type="a.b", payload={}, event_id="evt-1"))

    with pytest.raises(HttpError) as again:
        await call(svix.message.create, app_id,
                   MessageIn(event_type="a.b", payload={}, event_id="evt-1"))
    elsewhere = await call(svix.message.create, other_app,
                           MessageIn(event_type="a.b", payload={}, event_id="evt-1"))
    by_event_id = await call(svix.message.get, app_id, "evt-1")

    assert again.value.status_code == 409
    assert elsewhere.event_id == "evt-1"
    assert by_event_id.id == first.id


async def test_an_inline_application_is_created_with_the_message_if_missing(
        api: ApiServer) -> None:
    from svix.api import MessageIn

    svix = sdk(api)
    uid = unique("inline")

    sent = await call(svix.message.create, uid,
                      MessageIn(event_type="a.b", payload={},
                                application=ApplicationIn(name="Inline", uid=uid)))
    again = await call(svix.message.create, uid,
                       MessageIn(event_type="a.b", payload={},
                                 application=ApplicationIn(name="Ignored", uid=uid)))
    app = await call(svix.application.get, uid)
    missing = await api.post(f"/api/v1/app/{unique('nope')}/msg",
                             {"eventType": "a.b", "payload": {}})

    assert (app.uid, app.name) == (uid, "Inline")
    assert sent.id != again.id
    assert missing.status == 404


# -- operations Hookline added -------------------------------------------------------------
async def test_health_ping_answers_204(api: ApiServer) -> None:
    got = await api.get("/api/v1/health/ping")
    assert got.status == 204


async def test_attempted_messages_and_destinations_show_where_each_stands(
        api: ApiServer) -> None:
    from svix.api import (
        MessageAttemptListAttemptedMessagesOptions,
        MessageIn,
        MessageStatus,
    )

    from tests.support.polling import attempts_recorded
    from tests.support.receiver import Receiver

    receiver = await Receiver().start()
    receiver.statuses["/down"] = [500]
    try:
        svix = sdk(api)
        app_id = await new_app(api)
        up = await call(svix.endpoint.create, app_id, EndpointIn(url=receiver.url("/up")))
        down = await call(svix.endpoint.create, app_id, EndpointIn(url=receiver.url("/down")))
        sent = await call(svix.message.create, app_id,
                          MessageIn(event_type="a.b", payload={"k": 1}, tags=["t1"]))
        other = await call(svix.message.create, app_id,
                           MessageIn(event_type="a.c", payload={"k": 2}))
        await attempts_recorded(api.runtime.service, app_id, 4)  # 2 messages x 2 endpoints

        to_up = await call(svix.message_attempt.list_attempted_messages, app_id, up.id)
        tagged = await call(svix.message_attempt.list_attempted_messages, app_id, up.id,
                            MessageAttemptListAttemptedMessagesOptions(tag="t1"))
        destinations = await call(svix.message_attempt.list_attempted_destinations, app_id,
                                  sent.id)
        pending_down = await call(svix.message_attempt.list_attempted_messages, app_id, down.id,
                                  MessageAttemptListAttemptedMessagesOptions(
                                      status=MessageStatus.PENDING))
    finally:
        await receiver.stop()

    assert [(m.id, m.status) for m in to_up.data] == sorted(
        [(other.id, MessageStatus.SUCCESS), (sent.id, MessageStatus.SUCCESS)], reverse=True)
    assert [m.id for m in tagged.data] == [sent.id]
    by_endpoint = {d.id: d for d in destinations.data}
    assert by_endpoint[up.id].status == MessageStatus.SUCCESS
    assert by_endpoint[down.id].status == MessageStatus.PENDING
    assert by_endpoint[down.id].next_attempt is not None
    assert {m.id for m in pending_down.data} == {sent.id, other.id}


async def test_precheck_says_whether_any_endpoint_would_get_the_message(api: ApiServer) -> None:
    from svix.api import MessagePrecheckIn

    svix = sdk(api)
    app_id = await new_app(api)
    before = await call(svix.message.precheck, app_id, MessagePrecheckIn(event_type="a.b"))
    await call(svix.endpoint.create, app_id,
               EndpointIn(url="https://example.com/p", event_types=["a.b"], channels=["eu"]))

    wanted = await call(svix.message.precheck, app_id,
                        MessagePrecheckIn(event_type="a.b", channels=["eu"]))
    other_type = await call(svix.message.precheck, app_id,
                            MessagePrecheckIn(event_type="a.c", channels=["eu"]))
    no_channel = await call(svix.message.precheck, app_id, MessagePrecheckIn(event_type="a.b"))

    assert (before.active, wanted.active, other_type.active, no_channel.active) == (
        False, True, False, False)


SPEC_YAML = """
openapi: 3.1.0
info: {title: Pets, version: 1.0.0}
webhooks:
  pet.new:
    post:
      description: A pet was added
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
  pet.gone:
    post:
      summary: A pet left
      deprecated: true
components:
  schemas:
    Pet:
      type: object
      required: [id]
      properties: {id: {type: integer}, tag: {$ref: "#/components/schemas/Tag"}}
    Tag: {type: string}
"""


async def test_event_types_are_imported_from_an_openapi_documents_webhooks(
        api: ApiServer) -> None:
    from svix.api import EventTypeImportOpenApiIn

    svix = sdk(api)
    dry = await call(svix.event_type.import_openapi,
                     EventTypeImportOpenApiIn(spec_raw=SPEC_YAML, dry_run=True))
    missing_after_dry_run = await api.get("/api/v1/event-type/pet.new")
    done = await call(svix.event_type.import_openapi, EventTypeImportOpenApiIn(spec_raw=SPEC_YAML))
    pet = (await api.get("/api/v1/event-type/pet.new")).body
    gone = (await api.get("/api/v1/event-type/pet.gone")).body
    alias_bomb = await api.post("/api/v1/event-type/import/openapi",
                                {"specRaw": "a: &x [1]\nb: *x\n"})
    both = await api.post("/api/v1/event-type/import/openapi",
                          {"specRaw": SPEC_YAML, "spec": {"webhooks": {}}})

    assert sorted(dry.data.modified) == ["pet.gone", "pet.new"]
    assert dry.data.to_modify is not None and len(dry.data.to_modify) == 2
    assert missing_after_dry_run.status == 404
    assert sorted(done.data.modified) == ["pet.gone", "pet.new"]
    assert pet["description"] == "A pet was added"
    assert pet["schemas"]["1"] == {"type": "object", "required": ["id"],
                                   "properties": {"id": {"type": "integer"},
                                                  "tag": {"type": "string"}}}
    assert (gone["description"], gone["deprecated"]) == ("A pet left", True)
    assert (alias_bomb.status, both.status) == (422, 422)


async def test_usage_statistics_run_as_background_tasks(api: ApiServer) -> None:
    from datetime import UTC, datetime, timedelta

    from svix.api import AppUsageStatsIn, BackgroundTaskStatus, MessageIn

    from tests.support.polling import wait_until

    svix = sdk(api)
    app_id = await new_app(api)
    await call(svix.endpoint.create, app_id,
               EndpointIn(url="https://example.com/u", event_types=["u.one"]))
    await call(svix.endpoint.create, app_id, EndpointIn(url="https://example.com/v"))
    await call(svix.message.create, app_id, MessageIn(event_type="u.one", payload={}))
    now = datetime.now(UTC)

    started = await call(svix.statistics.aggregate_app_stats, AppUsageStatsIn(
        since=now - timedelta(minutes=5), until=now + timedelta(minutes=5),
        app_ids=[app_id, "no-such-app"]))
    listed = await call(svix.statistics.aggregate_event_types)

    async def finished(task_id: str) -> Any:
        task = await call(svix.background_task.get, task_id)
        return task if task.status != BackgroundTaskStatus.RUNNING else None

    # Each poll is a blocking SDK call on a worker thread: under a loaded parallel suite they
    # queue behind other threads, so the deadline is generous (the tasks finish in ~0.1 s).
    stats = await wait_until(lambda: finished(started.id), timeout=30, what="the stats task")
    aggregate = await wait_until(lambda: finished(listed.id), timeout=30,
                                 what="the aggregate task")

    assert started.unresolved_app_ids == ["no-such-app"]
    assert stats.status == BackgroundTaskStatus.FINISHED
    assert stats.data["appStats"] == [{"appId": app_id, "appUid": None,
                                       "messageDestinations": 2}]
    mine = [a for a in aggregate.data["applications"] if a["appId"] == app_id]
    assert mine == [{"appId": app_id, "eventTypes": None}]


# -- attempts: withMsg, status_code_class, channel, tag -------------------------------------
async def test_attempt_lists_filter_by_status_class_channel_and_tag_and_carry_messages(
        api: ApiServer) -> None:
    from svix.api import MessageAttemptListByEndpointOptions, MessageIn, StatusCodeClass

    from tests.support.polling import wait_until
    from tests.support.receiver import Receiver

    receiver = await Receiver().start()
    receiver.statuses["/flaky"] = [503, 200]
    try:
        svix = sdk(api)
        app_id = await new_app(api)
        ep = await call(svix.endpoint.create, app_id, EndpointIn(url=receiver.url("/flaky")))
        tagged = await call(svix.message.create, app_id, MessageIn(
            event_type="a.b", payload={"secret": 1}, tags=["vip"], channels=["eu"]))
        await wait_until(lambda: len(receiver.at("/flaky")) >= 1, what="the first attempt")
        plain = await call(svix.message.create, app_id, MessageIn(event_type="a.b", payload={}))
        await wait_until(lambda: len(receiver.at("/flaky")) >= 2, what="the second attempt")

        def listed(**options: Any) -> Any:
            return svix.message_attempt.list_by_endpoint(
                app_id, ep.id, MessageAttemptListByEndpointOptions(**options))

        errors = await call(listed, status_code_class=StatusCodeClass.CODE5XX)
        oks = await call(listed, status_code_class=StatusCodeClass.CODE2XX)
        by_tag = await call(listed, tag="vip")
        by_channel = await call(listed, channel="eu")
        with_msg = await call(listed, with_msg=True, expanded_statuses=True)
    finally:
        await receiver.stop()

    assert [a.msg_id for a in errors.data] == [tagged.id]
    assert {a.msg_id for a in oks.data} == {plain.id}
    assert {a.msg_id for a in by_tag.data} == {tagged.id}
    assert {a.msg_id for a in by_channel.data} == {tagged.id}
    msgs = {a.msg.id: a.msg for a in with_msg.data if a.msg is not None}
    assert set(msgs) == {tagged.id, plain.id}
    assert msgs[tagged.id].tags == ["vip"] and msgs[tagged.id].payload == {}


# -- event types and portal access: featureFlags, description, capabilities ----------------
async def test_event_types_keep_feature_flags_and_need_a_description(api: ApiServer) -> None:
    from svix.api import EventTypeIn, EventTypePatch

    svix = sdk(api)
    name = unique("flagged.type")
    made = await call(svix.event_type.create, EventTypeIn(
        name=name, description="beta only", feature_flags=["beta"]))
    patched = await call(svix.event_type.patch, name, EventTypePatch(feature_flags=["beta", "x"]))
    no_description = await api.post("/api/v1/event-type", {"name": unique("bare")})
    put_without = await api.put(f"/api/v1/event-type/{name}", {"archived": False})

    assert made.feature_flags == ["beta"]
    assert patched.feature_flags == ["beta", "x"]
    assert (no_description.status, no_description.body["field"]) == (422, "description")
    assert put_without.status == 422


async def test_a_portal_link_shows_flagged_event_types_only_with_their_flag(
        api: ApiServer) -> None:
    from svix.api import AppPortalAccessIn, AppPortalCapability, EventTypeIn

    from tests.e2e.portal import PortalClient

    svix = sdk(api)
    app_id = await new_app(api)
    secret_type, open_type = unique("secret.feature"), unique("open.feature")
    await call(svix.event_type.create, EventTypeIn(name=secret_type, description="s",
                                                   feature_flags=["secret-beta"]))
    await call(svix.event_type.create, EventTypeIn(name=open_type, description="o"))

    async def catalogue_page(body: AppPortalAccessIn) -> tuple[str, PortalClient]:
        access = await call(svix.authentication.app_portal_access, app_id, body)
        client = PortalClient(api)
        await client.open(f"{api.base_url}/portal/access?token={access.token}")
        status, html = await client.get("/portal/events")
        assert status == 200
        return html, client

    flagged, c1 = await catalogue_page(AppPortalAccessIn(feature_flags=["secret-beta"],
                                                         session_id="partner-1"))
    plain, c2 = await catalogue_page(AppPortalAccessIn())
    _, c3 = await catalogue_page(AppPortalAccessIn(
        capabilities=[AppPortalCapability.VIEW_BASE]))
    refused = await c3.post("/portal/endpoints", csrf=await c3.token(),
                            data={"url": "https://example.com/x"})
    for client in (c1, c2, c3):
        await client.close()

    assert secret_type in flagged and open_type in flagged
    assert secret_type not in plain and open_type in plain
    assert refused == 403


async def test_newest_first_lists_page_back_with_prev_iterator(api: ApiServer) -> None:
    from svix.api import MessageIn, MessageListOptions

    svix = sdk(api)
    app_id = await new_app(api)
    sent = [(await call(svix.message.create, app_id,
                        MessageIn(event_type="p.q", payload={"n": n}))).id for n in range(3)]
    newest_first = sorted(sent, reverse=True)  # ids sort by creation time

    first = await call(svix.message.list, app_id, MessageListOptions(limit=2))
    second = await call(svix.message.list, app_id,
                        MessageListOptions(limit=2, iterator=first.iterator))
    back = await call(svix.message.list, app_id,
                      MessageListOptions(limit=2, iterator=second.prev_iterator))
    bad = await api.get(f"/api/v1/app/{app_id}/msg?iterator=-nope")

    assert [m.id for m in first.data] == newest_first[:2]
    assert [m.id for m in second.data] == newest_first[2:]
    assert [m.id for m in back.data] == newest_first[:2]
    assert bad.status == 422
