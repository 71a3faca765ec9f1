"""Secrets stay secret: endpoint secrets and custom header values are sealed at rest, tokens
are kept only as hashes, and no log line, error, attempt record or API response (except the
dedicated secret endpoints) shows a secret, a token or a credential-like header value."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from hookline.signing import generate_secret
from tests.hardening.conftest import ServeApi, StartRuntime
from tests.hardening.support import store_endpoint_unchecked
from tests.support.api import ApiServer, Response, make_settings
from tests.support.net import free_port
from tests.support.polling import attempts_of, attempts_recorded, wait_until
from tests.support.processes import HooklineProcess, hookline_env
from tests.support.receiver import Receiver

SENSITIVE_HEADERS = ("Authorization", "X-Api-Key", "Cookie")


@dataclasses.dataclass
class Secrets:
    """One of each secret a run creates; every value is unique, so finding it means a leak."""

    admin_token: str = dataclasses.field(
        default_factory=lambda: "hl_admin_" + secrets.token_urlsafe(24))
    secret_key: str = dataclasses.field(default_factory=lambda: "sk_" + secrets.token_hex(16))
    endpoint_secret: str = dataclasses.field(default_factory=generate_secret)
    rotated_secret: str = dataclasses.field(default_factory=generate_secret)
    hex_secret: str = dataclasses.field(default_factory=lambda: "phrase-" + secrets.token_hex(12))
    bearer: str = dataclasses.field(default_factory=lambda: "tok_" + secrets.token_hex(16))
    api_key: str = dataclasses.field(default_factory=lambda: "key_" + secrets.token_hex(16))
    session: str = dataclasses.field(default_factory=lambda: "ses_" + secrets.token_hex(16))
    plain_value: str = dataclasses.field(default_factory=lambda: "plain_" + secrets.token_hex(8))
    found_later: dict[str, str] = dataclasses.field(default_factory=dict)  # app token, portal

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}", "X-Api-Key": self.api_key,
                "Cookie": f"session={self.session}", "X-Tenant": self.plain_value}

    def never_shown(self) -> dict[str, str]:
        """What no log, error, attempt or ordinary API response may contain."""
        named = {"admin token": self.admin_token, "HOOKLINE_SECRET_KEY": self.secret_key,
                 "endpoint secret": _key_text(self.endpoint_secret),
                 "rotated secret": _key_text(self.rotated_secret),
                 "hex secret": self.hex_secret, "authorization header": self.bearer,
                 "api key header": self.api_key, "cookie header": self.session}
        return {**named, **self.found_later}

    def never_stored(self) -> dict[str, str]:
        """What the database may hold only sealed or hashed: all of the above, plus the value
        of every custom header."""
        return {**self.never_shown(), "plain custom header": self.plain_value}


def _key_text(secret: str) -> str:
    return secret.removeprefix("whsec_")


def leaks(text: str, wanted: dict[str, str]) -> list[str]:
    return sorted(name for name, value in wanted.items() if value in text)


# -- at rest ------------------------------------------------------------------------------


async def database_text(database_url: str, data_dir: Path) -> str:
    """Everything the database holds: the raw SQLite files (WAL included), or every row of
    every PostgreSQL table rendered as text."""
    if database_url.startswith("sqlite"):
        return await asyncio.to_thread(_sqlite_files_text, data_dir)
    conn = await asyncpg.connect(database_url)
    try:
        tables = [r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]
        assert "endpoints" in tables and "api_tokens" in tables, tables
        rows = []
        for table in tables:
            rows += [r[0] for r in await conn.fetch(f'SELECT t::text FROM "{table}" t')]
        return "\n".join(rows)
    finally:
        await conn.close()


def _sqlite_files_text(data_dir: Path) -> str:
    files = sorted(data_dir.glob("hookline.db*"))
    assert files, "no SQLite file"
    return b"".join(path.read_bytes() for path in files).decode("latin-1")


async def test_secrets_tokens_and_header_values_are_never_stored_in_clear(
    start_runtime: StartRuntime, database_url: str, tmp_path: Path, receiver: Receiver,
) -> None:
    known = Secrets()
    settings = make_settings(database_url, tmp_path, admin_token=known.admin_token,
                             secret_key=known.secret_key)
    runtime = await start_runtime(settings)
    await runtime.service.ensure_admin_token()
    service = runtime.service
    app = await service.create_app("vault")
    endpoint = await service.create_endpoint(app.id, url=receiver.url("/ok"),
                                             secret=known.endpoint_secret,
                                             headers=known.headers())
    await service.rotate_endpoint_secret(app.id, endpoint.id, known.rotated_secret)
    await service.create_endpoint(
        app.id, url=receiver.url("/hex"), secret=known.hex_secret, headers=known.headers(),
        options=DeliveryOptions(signature_scheme="hmac-sha256-hex"))
    _, app_token = await service.create_app_token(app.id, "partner")
    known.found_later["app token"] = app_token
    configured = await database_text(database_url, tmp_path)
    message = (await service.publish(app.id, "invoice.paid", {"n": 1})).message
    await attempts_recorded(runtime.service, app.id, 2, message_id=message.id)
    assert receiver.requests[0].headers["Authorization"] == f"Bearer {known.bearer}"

    delivered = await database_text(database_url, tmp_path)

    assert endpoint.id in configured and "enc1:" in configured  # the rows are there, sealed
    assert leaks(configured, known.never_stored()) == []
    # Attempts keep the request's headers, credential-like values replaced by ***.
    assert leaks(delivered, known.never_shown()) == []
    if database_url.startswith("sqlite"):
        raw_key = base64.b64decode(_key_text(known.rotated_secret))
        assert raw_key.decode("latin-1") not in delivered


# -- in logs, errors, attempts and API responses -------------------------------------------


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for every logger, including those that do not propagate (uvicorn)."""
    caplog.set_level(logging.DEBUG)
    detached = []
    for logger in [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]:
        if isinstance(logger, logging.Logger) and not logger.propagate:
            logger.addHandler(caplog.handler)
            detached.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
    yield caplog
    for logger, level in detached:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


class RecordingApi:
    """Calls the API and keeps every response, to search them afterwards."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.responses: list[tuple[str, Response]] = []

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        response = await self.api.request(method, path, body, **kw)
        self.responses.append((f"{method} {path}", response))
        return response

    def text(self, skip: tuple[str, ...] = ()) -> str:
        return "\n".join(f"{call} {json.dumps(r.body)} {json.dumps(r.headers)}"
                         for call, r in self.responses if not call.endswith(skip))


async def hostile_and_ordinary_calls(api: RecordingApi, known: Secrets, receiver: Receiver,
                                     runtime: Runtime) -> tuple[str, str]:
    """A full run through the API: endpoints with secrets and credential headers, rotation,
    tokens, portal links, deliveries that succeed, fail, time out and are blocked, and
    refusals that could echo what they refuse. Returns (app id, endpoint id)."""
    app = (await api.call("POST", "/api/v1/app", {"name": "vault"})).body["id"]
    base = f"/api/v1/app/{app}/endpoint"
    endpoint = (await api.call("POST", base, {
        "url": receiver.url("/ok"), "secret": known.endpoint_secret,
        "headers": known.headers()})).body["id"]
    for path, extra in (("/fail", {}), ("/slow", {"timeout": 0.5})):
        await api.call("POST", base, {"url": receiver.url(path), "headers": known.headers(),
                                      "retrySchedule": [], **extra})
    await api.call("POST", base, {"url": receiver.url("/hex"), "secret": known.hex_secret,
                                  "signatureScheme": "hmac-sha512-hex",
                                  "headers": known.headers()})
    await store_endpoint_unchecked(runtime, app, "http://169.254.169.254/latest/",
                                   DeliveryOptions(retry_schedule=[]), headers=known.headers())
    await api.call("POST", f"{base}/{endpoint}/secret/rotate", {"key": known.rotated_secret})
    token = (await api.call("POST", f"/api/v1/app/{app}/token", {"name": "partner"})).body
    known.found_later["app token"] = token["token"]
    portal = (await api.call("POST", f"/api/v1/auth/app-portal-access/{app}", {})).body
    known.found_later["portal token"] = portal["token"]

    await api.call("POST", f"/api/v1/app/{app}/msg",
                   {"eventType": "invoice.paid", "payload": {"n": 1}}, token=token["token"])
    # Refusals of input that holds a secret must not repeat it.
    await api.call("GET", f"/api/v1/app/{app}", token=known.endpoint_secret)
    await api.call("GET", f"/api/v1/app/{app}", token=token["token"] + "x")
    await api.call("POST", base, {"url": "https://hooks.example.test/",
                                  "headers": {"Authorization": f"Bearer {known.bearer}\r\nX: y"}})
    await api.call("POST", base, {"url": "https://hooks.example.test/",
                                  "secret": "whsec_%%" + known.api_key})
    await api.call("POST", base, {"url": f"https://user:{known.session}@hooks.example.test/"})
    await api.call("POST", base, {"url": "http://169.254.169.254/", "headers": known.headers(),
                                  "secret": known.endpoint_secret})
    await api.call("POST", f"/api/v1/app/{app}/msg",
                   data=f'{{"eventType": "{known.hex_secret}", "payload": {{'.encode())
    await api.call("PUT", f"{base}/{endpoint}/headers",
                   {"headers": {"Authorization": f"Bearer {known.bearer}\nX: y"}})
    return app, endpoint


async def test_no_log_error_attempt_or_response_shows_a_secret(
    start_runtime: StartRuntime, serve_api: ServeApi, sqlite_url: str, tmp_path: Path,
    receiver: Receiver, every_log_record: pytest.LogCaptureFixture,
) -> None:
    known = Secrets()

    async def hang(_: object) -> web.Response:
        await asyncio.sleep(1.0)  # twice the endpoint's timeout
        return web.Response()

    receiver.statuses["/fail"] = [500]
    receiver.on("/slow", hang)
    settings = make_settings(sqlite_url, tmp_path, admin_token=known.admin_token,
                             secret_key=known.secret_key, egress_allow=("127.0.0.0/8",))
    runtime = await start_runtime(settings)
    api = RecordingApi(await serve_api(runtime))
    every_log_record.set_level(logging.DEBUG)

    app, endpoint = await hostile_and_ordinary_calls(api, known, receiver, runtime)
    attempts = await attempts_recorded(runtime.service, app, 5)
    for path in ("/ok", "/fail", "/slow", "/hex"):
        await receiver.wait_for(1, path)
    await api.call("GET", f"/api/v1/app/{app}/endpoint")
    await api.call("GET", f"/api/v1/app/{app}/endpoint/{endpoint}")
    headers = await api.call("GET", f"/api/v1/app/{app}/endpoint/{endpoint}/headers")
    await api.call("GET", f"/api/v1/app/{app}/attempt/endpoint/{endpoint}")
    message = attempts[0].message_id
    await api.call("GET", f"/api/v1/app/{app}/attempt/msg/{message}")
    await api.call("GET", f"/api/v1/app/{app}/msg/{message}/attempt/{attempts[0].id}")
    secret = await api.call("GET", f"/api/v1/app/{app}/endpoint/{endpoint}/secret")
    attempts = await attempts_of(runtime.service, app)

    assert {a.error_kind for a in attempts} == {None, "http_status", "timeout", "blocked"}
    assert secret.body["key"] == known.rotated_secret  # the dedicated endpoint shows it
    assert headers.body == {"headers": {"X-Tenant": known.plain_value},
                            "sensitive": sorted(SENSITIVE_HEADERS)}
    for attempt in attempts:
        assert {attempt.request_headers[name] for name in SENSITIVE_HEADERS} == {"***"}
    records = json.dumps([dataclasses.asdict(a) for a in attempts])
    assert leaks(records, known.never_shown()) == []
    created = ("/token", "/app-portal-access/" + app, "/secret", "/secret/rotate")
    assert leaks(api.text(skip=created), known.never_shown()) == []
    assert leaks(log_text(every_log_record), known.never_shown()) == []
    assert len(every_log_record.records) > 0


# -- what a real server prints ---------------------------------------------------------------


async def test_hookline_serve_never_prints_a_secret(tmp_path: Path, receiver: Receiver) -> None:
    known = Secrets()
    port = free_port()
    server = HooklineProcess("serve", env=hookline_env(
        database_url=f"sqlite:///{tmp_path}/hookline.db", data_dir=str(tmp_path),
        admin_token=known.admin_token, secret_key=known.secret_key, port=str(port),
        egress_allow="127.0.0.0/8", log_level="debug", poll_interval="0.1"))
    await server.start()
    try:
        await server.wait_for_output("is running at")
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await wait_until(lambda: _healthy(http), what="hookline serve to answer")
            await _drive_server(http, known, receiver)
    finally:
        await server.stop()

    output = (server.stdout + server.stderr).decode(errors="replace")
    assert "is running at" in output and "hookline.delivery.worker" in output  # its logs
    assert leaks(output, known.never_shown()) == []


async def _healthy(http: aiohttp.ClientSession) -> bool:
    try:
        async with http.get("/api/v1/health") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


async def _drive_server(http: aiohttp.ClientSession, known: Secrets,
                        receiver: Receiver) -> None:
    admin = {"authorization": f"Bearer {known.admin_token}"}

    async def call(method: str, path: str, body: Any = None, **headers: str) -> Any:
        async with http.request(method, path, json=body,
                                headers={**admin, **headers}) as response:
            return await response.json(content_type=None)

    receiver.statuses["/fail"] = [500]
    app = (await call("POST", "/api/v1/app", {"name": "vault"}))["id"]
    for path in ("/ok", "/fail"):
        await call("POST", f"/api/v1/app/{app}/endpoint", {
            "url": receiver.url(path), "secret": known.endpoint_secret,
            "headers": known.headers(), "retrySchedule": []})
    token = (await call("POST", f"/api/v1/app/{app}/token", {}))["token"]
    known.found_later["app token"] = token
    msg = (await call("POST", f"/api/v1/app/{app}/msg",
                      {"eventType": "a.b", "payload": {"n": 1}},
                      authorization=f"Bearer {token}"))["id"]
    await call("GET", f"/api/v1/app/{app}", authorization=f"Bearer {known.endpoint_secret}")
    await call("POST", f"/api/v1/app/{app}/endpoint", {
        "url": "http://169.254.169.254/", "secret": known.endpoint_secret,
        "headers": {"Authorization": f"Bearer {known.bearer}\r\nX: y"}})
    await receiver.wait_for(1, "/ok")
    await receiver.wait_for(1, "/fail")

    async def both_recorded() -> bool:  # and logged, if anything logs them
        listed = await call("GET", f"/api/v1/app/{app}/attempt/msg/{msg}")
        return sum(1 for a in listed["data"] if a["status"] in (0, 2)) == 2
    await wait_until(both_recorded, what="both attempts recorded")
