"""The FastAPI, Flask and Django helpers, served for real on loopback, answer every case alike:
503 + Retry-After while a first delivery runs, 200 for a finished duplicate, 500 (and a rerun
on retry) when the handler raises, 400 for signed non-JSON, and de-duplication by body field."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import uvicorn

from hookline.receiver import MemoryStore, sign
from tests.receiver.support import DEADLINE, SECRET, post, serving
from tests.support.net import free_port
from tests.support.polling import wait_until_blocking

FRAMEWORKS = ["fastapi", "flask", "django"]
WAIT = 10.0
Handler = Callable[[Any], None]


@contextmanager
def serve_fastapi(on_event: Handler, run_async: bool, **options: Any) -> Iterator[str]:
    from fastapi import Depends, FastAPI

    from hookline.receiver.fastapi import WebhookVerifier

    app, verified = FastAPI(), WebhookVerifier(**options)
    if run_async:
        async def receive_async(event: Any = Depends(verified)) -> None:
            await asyncio.to_thread(on_event, event)
        app.post("/hook", status_code=204)(receive_async)
    else:
        def receive(event: Any = Depends(verified)) -> None:
            on_event(event)
        app.post("/hook", status_code=204)(receive)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until_blocking(lambda: server.started, DEADLINE, "uvicorn to start")
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        thread.join(WAIT)


@contextmanager
def serve_flask(on_event: Handler, run_async: bool, **options: Any) -> Iterator[str]:
    from flask import Flask
    from werkzeug.serving import make_server as make_werkzeug_server

    from hookline.receiver.flask import webhook

    app = Flask(__name__)
    if run_async:
        @app.post("/hook")
        @webhook(**options)
        async def receive_async(event: Any) -> None:
            await asyncio.to_thread(on_event, event)
    else:
        @app.post("/hook")
        @webhook(**options)
        def receive(event: Any) -> None:
            on_event(event)

    with serving(make_werkzeug_server("127.0.0.1", 0, app, threaded=True)) as server:
        yield f"http://127.0.0.1:{server.server_port}/hook"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _UrlConf:
    """A URLconf as an object (Django caches resolvers by it, so it must be hashable)."""

    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_django(on_event: Handler, run_async: bool, **options: Any) -> Iterator[str]:
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings
    from django.urls import path

    from hookline.receiver.django import webhook

    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY=secrets.token_urlsafe(32), ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__, MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        )
        django.setup()
    if run_async:
        @webhook(**options)
        async def receive_async(request: Any, event: Any) -> None:
            await asyncio.to_thread(on_event, event)
        view: Any = receive_async
    else:
        @webhook(**options)
        def receive(request: Any, event: Any) -> None:
            on_event(event)
        view = receive

    urlconf = _UrlConf([path("hook", view)])
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    with override_settings(ROOT_URLCONF=urlconf), serving(server):
        yield f"http://127.0.0.1:{server.server_port}/hook"


SERVERS = {"fastapi": serve_fastapi, "flask": serve_flask, "django": serve_django}


def serve(framework: str, on_event: Handler, run_async: bool = False, **options: Any) -> Any:
    options.setdefault("secret", SECRET)
    options.setdefault("dedupe", MemoryStore())
    return SERVERS[framework](on_event, run_async, **options)


BODY = json.dumps({"type": "order.paid", "data": {"order": "ord_1"}}).encode()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_duplicate_arriving_while_the_first_runs_gets_503_with_retry_after(
    framework: str,
) -> None:
    entered, finish = threading.Event(), threading.Event()

    def slow_handler(event: Any) -> None:
        entered.set()
        assert finish.wait(WAIT)

    headers = sign(BODY, SECRET)
    with serve(framework, slow_handler) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, url, BODY, headers)
        assert entered.wait(WAIT)
        while_running = post(url, BODY, headers)
        finish.set()
        first_status = first.result(WAIT).status
        after = post(url, BODY, headers)

    assert (while_running.status, while_running.headers.get("retry-after")) == (503, "30")
    assert first_status == 204
    assert after.status == 200


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_handler_that_raises_gets_500_and_the_retry_runs_it_again(framework: str) -> None:
    attempts: list[Any] = []

    def flaky_handler(event: Any) -> None:
        attempts.append(event)
        if len(attempts) == 1:
            raise RuntimeError("downstream unavailable")

    headers = sign(BODY, SECRET)
    with serve(framework, flaky_handler) as url:
        failed = post(url, BODY, headers)
        retried = post(url, BODY, headers)
        duplicate = post(url, BODY, headers)

    assert [failed.status, retried.status, duplicate.status] == [500, 204, 200]
    assert len(attempts) == 2


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_validly_signed_body_that_is_not_json_gets_400(framework: str) -> None:
    body = b"<xml>not json</xml>"
    with serve(framework, lambda event: None) as url:
        answer = post(url, body, sign(body, SECRET))

    assert answer.status == 400
    assert b"invalid_json" in answer.body


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_hex_scheme_deduplicates_by_a_body_field_when_told_to(framework: str) -> None:
    handled: list[Any] = []
    body = json.dumps({"id": "evt_smile_1", "type": "order.created", "data": {}}).encode()
    headers = sign(body, "a little secret", "hmac-sha512-hex", header="Smile-Signature")
    del headers["webhook-id"], headers["webhook-timestamp"]  # a seed sender sends neither

    with serve(framework, handled.append, secret="a little secret", scheme="hmac-sha512-hex",
               header="Smile-Signature", event_id=lambda event, _: event["id"]) as url:
        statuses = [post(url, body, headers).status for _ in range(2)]
        forged = post(url, body.replace(b"order", b"refund"), headers)

    assert statuses == [204, 200]
    assert forged.status == 401
    assert handled == [json.loads(body)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_async_view_is_deduplicated_too(framework: str) -> None:
    handled: list[Any] = []
    headers = sign(BODY, SECRET)

    with serve(framework, handled.append, run_async=True) as url:
        statuses = [post(url, BODY, headers).status for _ in range(2)]

    assert statuses == [204, 200]
    assert len(handled) == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_without_dedupe_every_verified_delivery_runs(framework: str) -> None:
    handled: list[Any] = []
    headers = sign(BODY, SECRET)

    with serve(framework, handled.append, dedupe=None) as url:
        statuses = [post(url, BODY, headers).status for _ in range(2)]

    assert statuses == [204, 204]
    assert len(handled) == 2
