"""The access log (`HOOKLINE_ACCESS_LOG=true`): one line per request with its method, path,
status and duration. The query string is never logged (a portal link carries its token
there), nor any header."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import ACCESS_LOGGER

log = logging.getLogger(ACCESS_LOGGER)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            client = (scope.get("client") or ("-", 0))[0]
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, duration_ms,
                     extra={"hl_method": scope["method"], "hl_path": scope["path"],
                            "hl_status": status, "hl_duration_ms": duration_ms,
                            "hl_client": client})
