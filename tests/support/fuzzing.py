"""What the schema tests share: a server that only ever delivers to loopback, and real
resources for the generated requests to reach past their 404s."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from hookline.config import Settings
from hookline.delivery.egress import EgressPolicy
from hookline.delivery.outcome import Outcome
from hookline.delivery.request import PreparedRequest
from hookline.delivery.sender import Sender
from hookline.models import ErrorKind
from tests.support.api import ApiServer
from tests.support.polling import attempts_recorded
from tests.support.receiver import Receiver


class LoopbackOnlySender(Sender):
    """A real sender that only ever talks to loopback literals: generated endpoint URLs can
    name any host, and neither the worker nor a test send may leave this machine (not even
    for a DNS lookup)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, EgressPolicy.from_cidrs(settings.egress_allow))

    async def send(self, request: PreparedRequest, deadline: float) -> Outcome:
        host = urlsplit(request.url).hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return Outcome.error(ErrorKind.BLOCKED, "tests send to loopback only", 0)
        return await super().send(request, deadline)


async def real_resources(api: ApiServer, receiver: Receiver) -> tuple[dict[str, str], str]:
    """Ids of existing things, by path parameter name; and an application token for the
    token-scoped routes."""
    await api.post("/api/v1/event-type", {"name": "user.created", "description": "d",
                                          "example": {"userId": "u_1"}})
    app = (await api.post("/api/v1/app", {"name": "fuzz", "uid": "fuzz"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/fuzz")})).body
    msg = (await api.post(f"/api/v1/app/{app['id']}/msg",
                          {"eventType": "user.created", "payload": {"userId": "u"}})).body
    await attempts_recorded(api.runtime.service, app["id"], 1, message_id=msg["id"])
    attempts = (await api.get(f"/api/v1/app/{app['id']}/attempt/msg/{msg['id']}")).body["data"]
    token = (await api.post(f"/api/v1/app/{app['id']}/token", {})).body
    ids = {"app_id": app["id"], "endpoint_id": ep["id"], "msg_id": msg["id"],
           "attempt_id": attempts[0]["id"], "token_id": token["id"],
           "webhook_id": ep["id"], "event_type_name": "user.created"}
    return ids, token["token"]

