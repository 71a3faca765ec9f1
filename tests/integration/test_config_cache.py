"""What a server keeps in memory is never used stale: a change made through one process is
honoured by the very next request to another (two `hookline serve` on one database).

The publish path caches routing, the catalogue, applications and tokens; the URL and secret
tests guard whatever the delivery side keeps."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hookline.config import Settings
from hookline.receiver import verify
from tests.support.api import make_settings
from tests.support.processes import HOOKLINE, hookline_env
from tests.support.receiver import Receiver
from tests.support.served import ServeProcess
from tests.support.shared_api import module_database_fixture

# The two servers start once per database for the whole module (each start costs seconds);
# every test makes its own application, endpoint and receiver path. The admin-token test
# changes what every other test signs in with, so it comes last.
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

NEW_SECRET = "whsec_" + "bmV3LXNlY3JldC1mb3ItdGhlLWNhY2hlLXRlc3Qh"  # base64 of 30 bytes
_paths = itertools.count()


module_database_url = module_database_fixture()


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def settings(module_database_url: str, logs: Path) -> Settings:
    return make_settings(module_database_url, logs, strict_event_types=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def changer(settings: Settings, logs: Path) -> AsyncIterator[ServeProcess]:
    """The process that changes configuration: API only."""
    server = await ServeProcess(settings, logs, "changer", worker=False,
                                strict_event_types="true").start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def publisher(settings: Settings, logs: Path,
                    changer: ServeProcess) -> AsyncIterator[ServeProcess]:
    """The process that publishes and delivers, after the changer has migrated."""
    server = await ServeProcess(settings, logs, "publisher",
                                strict_event_types="true").start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    rec = await Receiver().start()
    yield rec
    await rec.stop()


@pytest.fixture
def first() -> str:
    """This test's own path on the shared receiver."""
    return f"/first-{next(_paths)}"


async def _app_with_endpoint(via: ServeProcess, receiver: Receiver, path: str,
                             filter_types: list[str] | None = None) -> tuple[str, str]:
    status, app = await via.call("POST", "/app", {"name": "cache"})
    assert status == 201
    for name in ("a.b", "x.y"):
        status, _ = await via.call("POST", "/event-type", {"name": name, "description": name})
        assert status in (201, 409)
    status, ep = await via.call("POST", f"/app/{app['id']}/endpoint",
                                {"url": receiver.url(path), "filterTypes": filter_types})
    assert status == 201
    return app["id"], ep["id"]


async def _publish(via: ServeProcess, app_id: str, event_type: str,
                   payload: dict[str, object] | None = None,
                   token: str | None = None, batch: bool = False) -> tuple[int, object]:
    """(status, body) of a single publish; with `batch`, of a batch of that one message,
    answered as a single publish would be (its item's status and problem, when the batch
    itself is accepted)."""
    message = {"eventType": event_type, "payload": payload or {"k": "v"}}
    if not batch:
        return await via.call("POST", f"/app/{app_id}/msg", message, token=token)
    status, body = await via.call("POST", f"/app/{app_id}/msg/batch", {"messages": [message]},
                                  token=token)
    if status != 200:
        return status, body
    [item] = body["data"]
    return item["status"], item["error"] or item["message"]


# Publishing in a batch, too: a batch is checked against the configuration last seen.
BOTH_WAYS = pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])


async def test_a_changed_filter_is_honoured_by_the_next_publish_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str
) -> None:
    app_id, ep_id = await _app_with_endpoint(publisher, receiver, first, ["a.b"])
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202  # the routing table is cached
    await receiver.wait_for(1, first)

    status, _ = await changer.call("PATCH", f"/app/{app_id}/endpoint/{ep_id}",
                                   {"filterTypes": ["x.y"]})
    assert status == 200
    assert (await _publish(publisher, app_id, "x.y"))[0] == 202

    await receiver.wait_for(2, first)  # under the old filter x.y would not be sent


async def test_a_changed_url_is_honoured_by_the_next_publish_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str
) -> None:
    app_id, ep_id = await _app_with_endpoint(publisher, receiver, first)
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202
    await receiver.wait_for(1, first)

    status, _ = await changer.call("PATCH", f"/app/{app_id}/endpoint/{ep_id}",
                                   {"url": receiver.url(first + "-moved")})
    assert status == 200
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202

    await receiver.wait_for(1, first + "-moved")
    assert len(receiver.at(first)) == 1


async def test_a_rotated_secret_signs_the_next_publish_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str
) -> None:
    app_id, ep_id = await _app_with_endpoint(publisher, receiver, first)
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202
    await receiver.wait_for(1, first)

    status, _ = await changer.call("POST", f"/app/{app_id}/endpoint/{ep_id}/secret/rotate",
                                   {"key": NEW_SECRET, "gracePeriodSeconds": 0})
    assert status in (200, 204)
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202

    [_, second] = await receiver.wait_for(2, first)
    verify(second.body, second.headers, NEW_SECRET)  # raises unless signed with the new secret


@BOTH_WAYS
async def test_a_changed_schema_is_enforced_by_the_next_publish_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str, batch: bool
) -> None:
    app_id, _ = await _app_with_endpoint(publisher, receiver, first)
    # An event type of its own: the other tests publish a.b without this schema.
    name = "s.batch" if batch else "s.n"
    status, _ = await changer.call("POST", "/event-type", {"name": name, "description": "s"})
    assert status == 201
    # The catalogue is cached:
    assert (await _publish(publisher, app_id, name, {"n": 1}, batch=batch))[0] == 202

    schema = {"type": "object", "properties": {"n": {"type": "string"}}, "required": ["n"]}
    status, _ = await changer.call("PUT", f"/event-type/{name}",
                                   {"description": "s", "schemas": {"1": schema}})
    assert status == 200
    status, problem = await _publish(publisher, app_id, name, {"n": 1}, batch=batch)

    assert status == 422, problem


@BOTH_WAYS
async def test_a_new_event_type_is_accepted_by_the_next_strict_publish_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str, batch: bool
) -> None:
    app_id, _ = await _app_with_endpoint(publisher, receiver, first)
    name = "brand.batch" if batch else "brand.new"
    # Unknown, remembered:
    assert (await _publish(publisher, app_id, name, batch=batch))[0] == 422

    status, _ = await changer.call("POST", "/event-type", {"name": name, "description": "new"})
    assert status == 201

    assert (await _publish(publisher, app_id, name, batch=batch))[0] == 202


@BOTH_WAYS
async def test_a_revoked_token_is_refused_by_the_next_request_elsewhere(
    changer: ServeProcess, publisher: ServeProcess, receiver: Receiver, first: str, batch: bool
) -> None:
    app_id, _ = await _app_with_endpoint(publisher, receiver, first)
    status, created = await changer.call("POST", f"/app/{app_id}/token", {"name": "ci"})
    assert status == 201
    token = created["token"]
    # The token is cached:
    assert (await _publish(publisher, app_id, "a.b", token=token, batch=batch))[0] == 202

    status, _ = await changer.call("DELETE", f"/app/{app_id}/token/{created['id']}")
    assert status == 204

    assert (await _publish(publisher, app_id, "a.b", token=token, batch=batch))[0] == 401


async def test_a_reset_admin_token_works_and_the_old_one_stops_at_the_next_request_elsewhere(
    settings: Settings, changer: ServeProcess, publisher: ServeProcess, receiver: Receiver,
    first: str,
) -> None:
    app_id, _ = await _app_with_endpoint(publisher, receiver, first)
    assert (await _publish(publisher, app_id, "a.b"))[0] == 202  # the admin token is cached

    reset = await asyncio.create_subprocess_exec(
        str(HOOKLINE), "admin-token", env=hookline_env(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await reset.communicate()
    assert reset.returncode == 0
    new_token = out.decode().strip().splitlines()[-1]

    assert (await _publish(publisher, app_id, "a.b", token=new_token))[0] == 202
    assert (await _publish(publisher, app_id, "a.b"))[0] == 401  # the old one, from settings
