"""Schemathesis drives every operation of a running server from its own /openapi.json and finds
no server error and no response that contradicts the schema (status, content type, body,
headers). SQLite only: the contract does not depend on the database.

Safety: generated endpoint URLs can name any host, so this server's sender (also the
worker's) refuses everything but loopback addresses without resolving or connecting.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks as st_checks

from hookline.delivery.outcome import Outcome
from hookline.delivery.sender import Sender
from hookline.models import ErrorKind
from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.polling import wait_until
from tests.support.receiver import Receiver

MAX_EXAMPLES = 10
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance,
          st_checks.content_type_conformance, st_checks.response_schema_conformance,
          st_checks.response_headers_conformance]


class LoopbackOnlySender(Sender):
    """A real sender that only ever talks to loopback literals."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str],
                   deadline: float) -> Outcome:
        host = urlsplit(url).hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return Outcome.error(ErrorKind.BLOCKED, "tests send to loopback only", 0)
        return await super().send(url, body, headers, deadline)


@pytest.fixture
async def fuzzed_api(tmp_path: Path) -> AsyncIterator[ApiServer]:
    settings_ = make_settings(f"sqlite:///{tmp_path}/fuzz.db", tmp_path)
    runtime = await Runtime.start(settings_, sender=LoopbackOnlySender(settings_))
    await runtime.service.ensure_admin_token()
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield server
    await server.stop()
    await runtime.stop()


async def real_resources(api: ApiServer, receiver: Receiver) -> tuple[dict[str, str], str]:
    """Ids of existing things, so that part of the examples reach past the 404s; and an
    application token for the token-scoped routes."""
    await api.post("/api/v1/event-type", {"name": "user.created",
                                          "example": {"userId": "u_1"}})
    app = (await api.post("/api/v1/app", {"name": "fuzz", "uid": "fuzz"})).body
    ep = (await api.post(f"/api/v1/app/{app['id']}/endpoint",
                         {"url": receiver.url("/fuzz")})).body
    msg = (await api.post(f"/api/v1/app/{app['id']}/msg",
                          {"eventType": "user.created", "payload": {"userId": "u"}})).body
    attempts = await wait_until(lambda: _attempts(api, app["id"], msg["id"]), what="attempt")
    token = (await api.post(f"/api/v1/app/{app['id']}/token", {})).body
    ids = {"app_id": app["id"], "endpoint_id": ep["id"], "msg_id": msg["id"],
           "attempt_id": attempts[0]["id"], "token_id": token["id"],
           "webhook_id": ep["id"], "event_type_name": "user.created"}
    return ids, token["token"]


async def _attempts(api: ApiServer, app_id: str, msg_id: str) -> list[Any]:
    return list((await api.get(f"/api/v1/app/{app_id}/attempt/msg/{msg_id}")).body["data"])


def fuzz(base_url: str, admin_token: str, app_token: str,
         ids: dict[str, str]) -> list[str]:
    """Run every operation; return one line per failing operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Destructive operations last, so the real resources serve the others first.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    failures = []
    for operation in operations:
        token = app_token if operation.path.startswith("/v1/webhooks") else admin_token
        params = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        strategy = operation.as_strategy()
        if params:
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters=params))
        try:
            _run(strategy, lambda case, t=token: case.call_and_validate(
                headers={"Authorization": f"Bearer {t}"}, checks=CHECKS))
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises groups
            failures.append(f"{operation.label}: {exc!r}"[:3000])
    return failures


def _run(strategy: st.SearchStrategy[Any], check: Callable[[Any], Any]) -> None:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    run()


async def test_every_operation_conforms_to_the_openapi_schema(
    fuzzed_api: ApiServer, receiver: Receiver
) -> None:
    ids, app_token = await real_resources(fuzzed_api, receiver)
    failures = await asyncio.to_thread(fuzz, fuzzed_api.base_url, ADMIN_TOKEN, app_token, ids)
    assert failures == [], "\n\n".join(failures)
