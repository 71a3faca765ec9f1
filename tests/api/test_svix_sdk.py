"""The official Svix Python SDK, unchanged, drives Hookline's management API.

The SDK is synchronous: its calls run in a thread so the in-process server keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    ApplicationPatch,
    AppPortalAccessIn,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventExampleIn,
    EventTypeIn,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    RecoverIn,
    Svix,
    SvixOptions,
)
from svix.api.errors.http_error import HttpError
from svix.api.errors.http_validation_error import HTTPValidationError
from svix.api.event_type import EventTypeDeleteOptions, EventTypeListOptions

from hookline.models import DeliveryOptions
from hookline.tokens import verify_portal_token
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded, deliveries_failed
from tests.support.receiver import Receiver

T = TypeVar("T")


def svix_client(api: ApiServer, token: str | None = None) -> Svix:
    # No SDK retries: a 5xx must fail the test, not be retried into a pass.
    return Svix(token or api.token, SvixOptions(server_url=api.base_url, retry_schedule=[]))


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_applications_create_get_list_update_and_delete(api: ApiServer) -> None:
    svix = svix_client(api)
    app = await call(svix.application.create,
                     ApplicationIn(name="Acme", uid="acme", metadata={"tier": "gold"},
                                   throttle_rate=50))
    assert app.id.startswith("app_") and app.uid == "acme" and app.throttle_rate == 50

    assert (await call(svix.application.get, "acme")).id == app.id
    same = await call(svix.application.get_or_create, ApplicationIn(name="Other", uid="acme"))
    assert same.id == app.id and same.name == "Acme"
    fresh = await call(svix.application.get_or_create, ApplicationIn(name="New", uid="new"))
    assert fresh.id != app.id

    listed = await call(svix.application.list)
    assert {a.id for a in listed.data} == {app.id, fresh.id} and listed.done

    patched = await call(svix.application.patch, app.id, ApplicationPatch(name="Acme Inc"))
    assert patched.name == "Acme Inc" and patched.metadata == {"tier": "gold"}
    replaced = await call(svix.application.upsert, app.id, ApplicationIn(name="Acme 2"))
    assert replaced.name == "Acme 2" and replaced.metadata == {}

    await call(svix.application.delete, app.id)
    with pytest.raises(HttpError) as err:
        await call(svix.application.get, app.id)
    assert err.value.status_code == 404 and err.value.code == "not_found"


async def test_event_types_create_get_list_update_and_delete(api: ApiServer) -> None:
    svix = svix_client(api)
    schema = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"],
              "examples": [{"id": "inv_1"}]}
    created = await call(svix.event_type.create,
                         EventTypeIn(name="invoice.paid", description="An invoice was paid",
                                     schemas={"1": schema}))
    assert created.name == "invoice.paid" and created.schemas == {"1": schema}
    assert (await call(svix.event_type.get, "invoice.paid")).description == "An invoice was paid"

    await call(svix.event_type.create, EventTypeIn(name="invoice.voided", description="Voided"))
    listed = await call(svix.event_type.list)
    assert [e.name for e in listed.data] == ["invoice.paid", "invoice.voided"]

    upserted = await call(svix.event_type.upsert, "invoice.paid",
                          EventTypeUpsertIn(description="Paid in full", deprecated=True))
    assert upserted.deprecated and upserted.description == "Paid in full"
    patched = await call(svix.event_type.patch, "invoice.paid",
                         EventTypePatch(description="Paid", group_name="billing"))
    assert patched.description == "Paid" and patched.deprecated and patched.group_name == "billing"

    await call(svix.event_type.delete, "invoice.voided")  # Svix archives on delete
    names = [e.name for e in (await call(svix.event_type.list)).data]
    assert names == ["invoice.paid"]
    archived = await call(svix.event_type.list, EventTypeListOptions(include_archived=True))
    assert {e.name: e.archived for e in archived.data} == {"invoice.paid": False,
                                                           "invoice.voided": True}
    await call(svix.event_type.delete, "invoice.voided", EventTypeDeleteOptions(expunge=True))
    with pytest.raises(HttpError) as err:
        await call(svix.event_type.get, "invoice.voided")
    assert err.value.status_code == 404


async def test_endpoints_create_get_list_update_secret_headers_and_delete(
    api: ApiServer, receiver: Receiver
) -> None:
    svix = svix_client(api)
    app = await call(svix.application.create, ApplicationIn(name="Shop"))
    ep = await call(svix.endpoint.create, app.id,
                    EndpointIn(url=receiver.url("/a"), description="orders",
                               event_types=["order.created"], uid="orders",
                               headers={"X-Team": "a"}, metadata={"k": "v"}))
    assert ep.event_types == ["order.created"] and ep.uid == "orders"
    assert (await call(svix.endpoint.get, app.id, "orders")).id == ep.id
    assert [e.id for e in (await call(svix.endpoint.list, app.id)).data] == [ep.id]

    upserted = await call(svix.endpoint.upsert, app.id, ep.id,
                          EndpointUpsertIn(url=receiver.url("/b"), event_types=["order.*"]))
    assert upserted.url == receiver.url("/b") and upserted.event_types == ["order.*"]
    patched = await call(svix.endpoint.patch, app.id, ep.id,
                         EndpointPatch(description="all orders", disabled=True))
    assert patched.disabled and patched.url == receiver.url("/b")

    secret = (await call(svix.endpoint.get_secret, app.id, ep.id)).key
    assert secret.startswith("whsec_")
    rotated = await call(svix.endpoint.rotate_secret, app.id, ep.id, EndpointSecretRotateIn())
    assert rotated.key != secret
    assert (await call(svix.endpoint.get_secret, app.id, ep.id)).key == rotated.key

    headers = await call(svix.endpoint.get_headers, app.id, ep.id)
    assert headers.headers == {"X-Team": "a"} and headers.sensitive == []
    await call(svix.endpoint.set_headers, app.id, ep.id,
               EndpointHeadersIn(headers={"X-Team": "b", "Authorization": "Bearer s3cr3t"}))
    await call(svix.endpoint.patch_headers, app.id, ep.id,
               EndpointHeadersPatchIn(headers={"X-Env": "prod"}, delete_headers=["X-Team"]))
    headers = await call(svix.endpoint.get_headers, app.id, ep.id)
    assert headers.headers == {"X-Env": "prod"} and headers.sensitive == ["Authorization"]

    await call(svix.endpoint.delete, app.id, ep.id)
    with pytest.raises(HttpError) as err:
        await call(svix.endpoint.get, app.id, ep.id)
    assert err.value.status_code == 404


async def test_messages_attempts_and_resend(api: ApiServer, receiver: Receiver) -> None:
    svix = svix_client(api)
    app = await call(svix.application.create, ApplicationIn(name="Msgs"))
    ep = await call(svix.endpoint.create, app.id, EndpointIn(url=receiver.url("/m")))
    payload = {"orderId": "o-1", "total": 12.5}
    options = MessageCreateOptions(idempotency_key="order-o-1", with_content=True)
    msg = await call(svix.message.create, app.id,
                     MessageIn(event_type="order.created", payload=payload, event_id="evt-1",
                               channels=["eu"]), options)
    again = await call(svix.message.create, app.id,
                       MessageIn(event_type="order.created", payload={"other": 1}), options)
    assert again.id == msg.id and again.payload == payload
    await call(svix.message.create, app.id, MessageIn(event_type="order.voided", payload={}))

    got = await call(svix.message.get, app.id, "evt-1", MessageGetOptions(with_content=True))
    assert got.id == msg.id and got.payload == payload and got.channels == ["eu"]
    listed = await call(svix.message.list, app.id,
                        MessageListOptions(event_types=["order.created"], channel="eu"))
    assert [m.id for m in listed.data] == [msg.id]
    assert listed.data[0].payload == {}  # the SDK asks for no content by default

    delivered = await receiver.wait_for(2, "/m")
    [request] = [r for r in delivered if r.headers["webhook-id"] == msg.id]
    secret = (await call(svix.endpoint.get_secret, app.id, ep.id)).key
    Webhook(secret).verify(request.body, request.headers)
    await attempts_recorded(api.runtime.service, app.id, 2, endpoint_id=ep.id)
    by_msg = await _attempts(svix, app.id, msg.id)
    assert by_msg[0].status == 0 and by_msg[0].status_text == "success"
    assert by_msg[0].response_status_code == 200
    by_endpoint = (await call(svix.message_attempt.list_by_endpoint, app.id, ep.id,
                              MessageAttemptListByEndpointOptions(status=0))).data
    assert msg.id in {a.msg_id for a in by_endpoint} and len(by_endpoint) == 2
    failed = await call(svix.message_attempt.list_by_endpoint, app.id, ep.id,
                        MessageAttemptListByEndpointOptions(status=2))
    assert failed.data == []

    await call(svix.message_attempt.resend, app.id, msg.id, ep.id)
    resent = await receiver.wait_for(3, "/m")
    assert sum(1 for r in resent if r.headers["webhook-id"] == msg.id) == 2


async def _attempts(svix: Svix, app_id: str, msg_id: str) -> list[Any]:
    page = await call(svix.message_attempt.list_by_msg, app_id, msg_id,
                      MessageAttemptListByMsgOptions(with_content=True))
    return page.data


async def test_recover_resends_failures_since_a_time(api: ApiServer, receiver: Receiver) -> None:
    svc = api.runtime.service
    svix = svix_client(api)
    app = await svc.create_app("Recover")
    receiver.statuses["/r"] = [500]
    ep = await svc.create_endpoint(app.id, url=receiver.url("/r"),
                                   options=DeliveryOptions(retry_schedule=[]))
    for n in range(2):
        await svc.publish(app.id, "a.b", {"n": n})
    await receiver.wait_for(2, "/r")
    await deliveries_failed(svc, app.id, ep.id, 2)
    receiver.statuses["/r"] = [200]

    since = datetime.now(UTC) - timedelta(hours=1)
    task = await call(svix.endpoint.recover, app.id, ep.id, RecoverIn(since=since))
    assert task.status == "finished" and task.task == "endpoint.recover"
    got = await receiver.wait_for(4, "/r")
    assert len({r.headers["webhook-id"] for r in got}) == 2


async def test_send_example_and_stats(api: ApiServer, receiver: Receiver) -> None:
    svix = svix_client(api)
    await call(svix.event_type.create,
               EventTypeIn(name="user.created", description="A user signed up",
                           schemas={"1": {"type": "object", "examples": [{"userId": "u_1"}]}}))
    app = await call(svix.application.create, ApplicationIn(name="Examples"))
    ep = await call(svix.endpoint.create, app.id, EndpointIn(url=receiver.url("/x")))

    sent = await call(svix.endpoint.send_example, app.id, ep.id,
                      EventExampleIn(event_type="user.created"))
    assert sent.event_type == "user.created" and sent.payload == {"userId": "u_1"}
    [request] = receiver.at("/x")  # synchronous: already there
    secret = (await call(svix.endpoint.get_secret, app.id, ep.id)).key
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {"userId": "u_1"}

    stats = await call(svix.endpoint.get_stats, app.id, ep.id)
    assert (stats.success, stats.fail, stats.pending, stats.sending) == (0, 0, 0, 0)


async def test_app_portal_access_returns_a_signed_link(api: ApiServer) -> None:
    svix = svix_client(api)
    app = await call(svix.application.create, ApplicationIn(name="Portal"))
    access = await call(svix.authentication.app_portal_access, app.id, AppPortalAccessIn())
    assert access.url.endswith(f"/portal/access?token={access.token}")
    service = api.runtime.service
    assert verify_portal_token(service.box.derive("portal"), access.token,
                               service.clock()) == app.id


async def test_validation_errors_reach_the_sdk_in_its_own_shape(api: ApiServer) -> None:
    svix = svix_client(api)
    app = await call(svix.application.create, ApplicationIn(name="Errors"))
    with pytest.raises(HTTPValidationError) as err:
        await call(svix.endpoint.create, app.id, EndpointIn(url="ftp://example.com/hook"))
    assert err.value.status_code == 422
    assert err.value.detail[0].loc == ["body", "url"]
    with pytest.raises(HTTPValidationError) as err:
        await call(svix.application.create, ApplicationIn(name=""))
    assert err.value.detail[0].loc == ["body", "name"]
