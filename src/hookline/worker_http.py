"""`hookline worker --metrics-port`: `/metrics`, `/healthz` and `/readyz` of a worker that runs
without the API. Served by aiohttp (already Hookline's HTTP client) in the worker's own event
loop, so the readiness check reads the same worker and database the worker uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .service import Service


def worker_http_app(service: Service) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        status, body = await service.readiness()
        return web.json_response(body, status=status)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = await service.metrics_exposition()
        return web.Response(body=body, headers={"content-type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve_worker_http(service: Service, host: str,
                            port: int) -> Callable[[], Awaitable[None]]:
    """Start listening (OSError if the port is taken); returns how to stop."""
    runner = web.AppRunner(worker_http_app(service), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner.cleanup
