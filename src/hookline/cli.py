"""`hookline`: serve, worker, migrate, listen, portal-link. Errors are one line, no traceback."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click

from . import __version__
from .config import Settings
from .errors import HooklineError
from .receiver._signing import SCHEMES, STANDARD
from .receiver._verify import DEFAULT_TOLERANCE
from .tokens import PORTAL_ACCESS_MAX_TTL, PORTAL_ACCESS_MIN_TTL

log = logging.getLogger("hookline")


def _setup_logging(settings: Settings) -> None:
    from .logs import setup_logging

    try:
        setup_logging(settings.log_level, settings.log_format)
    except HooklineError as exc:
        raise click.ClickException(exc.detail) from None


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a command's coroutine; whatever stops it is one line on stderr and exit 1."""
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    try:
        runner(main())
    except HooklineError as exc:
        raise click.ClickException(exc.detail) from None
    except KeyboardInterrupt:
        pass
    except (click.ClickException, SystemExit):
        raise
    except Exception as exc:  # a bug: still one line, with enough to report it
        log.debug("unexpected error", exc_info=True)
        raise click.ClickException(f"unexpected error: {type(exc).__name__}: {exc}") from None


def _freeze_startup_objects() -> None:
    """Once a long-running process has started: what starting made (modules, the app, its
    caches) lives as long as the process, so it leaves the garbage collector's view. A full
    collection then walks only what requests made since, not the ~140,000 objects of a
    started server (one took 96 ms under load, a whole request's worth of p99)."""
    gc.collect()
    gc.freeze()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced: a port in use is one line
    and exit 1, never a banner followed by a failure."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: "
                                   f"{exc.strerror or exc}") from None
    return sock


async def _check_database(settings: Settings) -> None:
    """Connect once before serving, so a database that is missing or unreachable is one line
    (`HooklineError`) rather than the server's failed start-up."""
    from .secretbox import SecretBox
    from .store import open_store

    store = await open_store(settings, SecretBox.load(settings.secret_key, settings.data_dir))
    try:
        await store.ping()
    finally:
        await store.close()


def _settings(**flags: Any) -> Settings:
    try:
        return Settings.from_env(**flags)
    except HooklineError as exc:
        raise click.ClickException(exc.detail) from None


database_option = click.option(
    "--database-url", envvar="HOOKLINE_DATABASE_URL", default=None,
    help="sqlite:///./hookline.db (default) or postgresql://user@host/db")


@click.group()
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """Hookline: self-hostable webhook delivery."""


@main.command()
@database_option
@click.option("--host", default=None, help="address to bind (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port to bind (default 8000)")
@click.option("--no-worker", is_flag=True, help="serve the API only; run workers separately")
@click.option("--worker-processes", type=int, default=None,
              help="delivery worker processes beside the API (0: in the API's process; "
                   "default: from the database and the cores)")
@click.option("--api-processes", type=int, default=None,
              help="processes serving the API on one shared socket (default: from the "
                   "database and the cores)")
def serve(database_url: str | None, host: str | None, port: int | None, no_worker: bool,
          worker_processes: int | None, api_processes: int | None) -> None:
    """Run the API, the portal and the delivery worker (in-process or beside it)."""
    from .api import create_app
    from .runtime import Runtime
    from .worker_processes import (
        ApiProcesses,
        WorkerProcesses,
        api_process_count,
        worker_process_count,
    )

    settings = _settings(database_url=database_url, host=host, port=port,
                         worker_processes=worker_processes, api_processes=api_processes)
    _setup_logging(settings)
    processes = 0 if no_worker else worker_process_count(settings)
    apis = api_process_count(settings)
    if (processes or apis > 1) and settings.metrics_dir is None:
        # The other processes' counters reach /metrics through files there (cleared at every
        # start, so a killed serve leaves nothing that grows).
        settings = settings.with_(metrics_dir=settings.data_dir / "metrics")
    if (processes or apis > 1) and settings.metrics_dir is not None:
        from .metrics import clear_directory

        clear_directory(settings.metrics_dir)
    sock = _bind(settings.host, settings.port)
    workers = WorkerProcesses(settings, processes)
    more_apis = ApiProcesses(settings, apis - 1, sock.fileno(), processes)

    async def announce(runtime: Runtime) -> None:
        token = await runtime.service.ensure_admin_token()
        runtime.service.worker_processes = processes
        await workers.start()  # after the API's start has migrated the database
        await more_apis.start()
        await more_apis.wait_ready()
        _freeze_startup_objects()
        click.echo(f"Hookline {__version__} is running at {settings.base_url}")
        click.echo(f"  API docs:  {settings.base_url}/docs")
        click.echo(f"  portal:    {settings.base_url}/portal/ (admin: /portal/login; partners: "
                   "`hookline portal-link APP`)")
        click.echo(f"  database:  {_redact_url(settings.database_url)}")
        if apis > 1:
            click.echo(f"  API:       {apis} processes on one socket")
        if not no_worker:
            click.echo("  delivery:  " + (f"{processes} worker processes" if processes
                                          else "a worker in this process"))
        if token:
            click.echo(f"  admin token (shown once, store it now): {token}")
        elif not settings.admin_token:
            click.echo("  admin token: set at first start (reset with `hookline admin-token`)")
        sys.stdout.flush()

    app = create_app(settings, with_worker=not no_worker and not processes,
                     on_started=announce)
    server = _api_server(app, settings, on_exit=more_apis.signal_stop)

    async def run() -> None:
        try:
            await _check_database(settings)
            await server.serve(sockets=[sock])
        finally:
            await asyncio.gather(more_apis.stop(), workers.stop())

    _run(run)


def _api_server(app: Any, settings: Settings,
                on_exit: Callable[[], None] | None = None) -> Any:
    """uvicorn's server for `app`; `on_exit` runs as soon as a signal asks it to stop (the
    other API processes then drain their connections while this one drains its own)."""
    import uvicorn

    from .api.serving import server_config

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if on_exit is not None:
                on_exit()

    # log_config=None: uvicorn's records go through Hookline's handlers (text or JSON).
    config = server_config(app, settings, host=settings.host, port=settings.port,
                           log_level=settings.log_level, access_log=False, lifespan="on",
                           log_config=None,
                           timeout_graceful_shutdown=int(settings.shutdown_grace))
    return Server(config)


@main.command("api-process", hidden=True)
@click.option("--fd", type=int, required=True, help="the listening socket serve bound")
@click.option("--workers", type=int, default=0, help="worker processes serve started")
@click.option("--ready-fd", type=int, required=True, help="a byte there once started")
def api_process(fd: int, workers: int, ready_fd: int) -> None:
    """One more API process of `hookline serve --api-processes N`, started by serve itself on
    its listening socket, after it has migrated: no banner, no worker."""
    from .api import create_app
    from .runtime import Runtime
    from .worker_processes import tell_ready

    settings = _settings()
    _setup_logging(settings)
    sock = socket.socket(fileno=fd)

    async def started(runtime: Runtime) -> None:
        runtime.service.worker_processes = workers
        _freeze_startup_objects()
        tell_ready(ready_fd)

    server = _api_server(create_app(settings, with_worker=False, on_started=started), settings)
    _run(lambda: server.serve(sockets=[sock]))


@main.command()
@database_option
@click.option("--concurrency", type=int, default=None, help="requests in flight at most")
@click.option("--metrics-port", type=int, default=None,
              help="serve /metrics, /healthz and /readyz on this port (address: HOOKLINE_HOST)")
def worker(database_url: str | None, concurrency: int | None,
           metrics_port: int | None) -> None:
    """Run delivery workers only (many may share one PostgreSQL database)."""

    settings = _settings(database_url=database_url, worker_concurrency=concurrency)
    _setup_logging(settings)

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        runtime = await _start_when_database_is_up(settings, stopping)
        if runtime is None:
            return
        assert runtime.worker is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.worker.stop)
        if stopping.is_set():  # the signal came while the runtime was starting
            runtime.worker.stop()
        _freeze_startup_objects()
        stop_http = None
        if metrics_port is not None:
            from .worker_http import serve_worker_http

            try:
                stop_http = await serve_worker_http(runtime.service, settings.host,
                                                    metrics_port)
            except OSError as exc:
                await runtime.stop()
                raise click.ClickException(
                    f"cannot listen on {settings.host}:{metrics_port}: "
                    f"{exc.strerror or exc}") from None
        click.echo(f"hookline worker {runtime.worker.name} delivering from "
                   f"{_redact_url(settings.database_url)}")
        if metrics_port is not None:
            click.echo(f"  metrics:   http://{settings.host}:{metrics_port}/metrics")
        sys.stdout.flush()
        try:
            await runtime.stop_when_worker_ends()
        finally:
            if stop_http is not None:
                await stop_http()

    _run(run)


async def _start_when_database_is_up(settings: Settings, stopping: asyncio.Event) -> Any:
    """A worker started before its database waits for it instead of exiting."""
    from .errors import StoreUnavailable
    from .runtime import Runtime

    while not stopping.is_set():
        try:
            return await Runtime.start(settings, with_worker=True)
        except StoreUnavailable as exc:
            log.warning("database unavailable (%s); retrying in %.0f s", exc.detail,
                        WORKER_START_RETRY)
            try:
                await asyncio.wait_for(stopping.wait(), WORKER_START_RETRY)
            except TimeoutError:
                pass
    return None


WORKER_START_RETRY = 2.0


@main.command()
@database_option
@click.option("--source", "sources", multiple=True, metavar="URL",
              help="an application database with a hookline_outbox table (repeatable; "
                   "default: HOOKLINE_OUTBOX_SOURCES)")
@click.option("--to", "target", default=None, metavar="URL",
              help="Hookline's base URL, published to over HTTP (default: straight into "
                   "Hookline's own database, --database-url)")
@click.option("--token", envvar="HOOKLINE_RELAY_TOKEN", default=None,
              help="an API token for --to (or HOOKLINE_RELAY_TOKEN)")
def relay(database_url: str | None, sources: tuple[str, ...], target: str | None,
          token: str | None) -> None:
    """Move committed outbox rows into Hookline, each exactly once (see docs/outbox.md)."""
    from .relay_command import run_relay

    settings = _settings(database_url=database_url, outbox_sources=sources or None)
    _setup_logging(settings)
    if not settings.outbox_sources:
        raise click.ClickException("name an outbox with --source URL (or "
                                   "HOOKLINE_OUTBOX_SOURCES)")
    if target is not None and not token:
        raise click.ClickException("--to needs --token (or HOOKLINE_RELAY_TOKEN)")
    _run(lambda: run_relay(settings, target, token))


@main.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Apply schema migrations (idempotent)."""
    from .secretbox import SecretBox
    from .store import open_store

    settings = _settings(database_url=database_url)

    async def run() -> None:
        store = await open_store(settings, SecretBox.load(settings.secret_key, settings.data_dir))
        try:
            applied = await store.migrate()
        finally:
            await store.close()
        click.echo(f"applied migrations {applied}" if applied else "schema is up to date")

    _run(run)


@main.command("admin-token")
@database_option
def admin_token(database_url: str | None) -> None:
    """Generate a new admin token (the old one stops working) and print it once."""
    from .runtime import Runtime

    settings = _settings(database_url=database_url)

    async def run() -> None:
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            click.echo(await runtime.service.reset_admin_token())
        finally:
            await runtime.stop()

    _run(run)


@main.command()
@database_option
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of the screen")
def status(database_url: str | None, as_json: bool) -> None:
    """Show the queue, the endpoints, the live workers and the last purge."""
    from .runtime import Runtime

    settings = _settings(database_url=database_url)

    async def run() -> None:
        runtime = await Runtime.start(settings, with_worker=False, migrate=False)
        try:
            report = await runtime.service.status_report()
        finally:
            await runtime.stop()
        if as_json:
            import json

            click.echo(json.dumps(report.as_json()))
        else:
            from .health import format_report

            click.echo(format_report(report))

    _run(run)


@main.command("portal-link")
@database_option
@click.argument("app")
@click.option("--ttl", type=click.IntRange(PORTAL_ACCESS_MIN_TTL, PORTAL_ACCESS_MAX_TTL),
              default=3600, show_default=True, help="seconds the link stays valid")
def portal_link(database_url: str | None, app: str, ttl: int) -> None:
    """Print a signed link into APP's partner portal (APP is an id or uid)."""
    from .runtime import Runtime

    settings = _settings(database_url=database_url)

    async def run() -> None:
        runtime = await Runtime.start(settings, with_worker=False)
        try:
            url, _ = await runtime.service.create_portal_access(app, ttl)
        finally:
            await runtime.stop()
        click.echo(url)

    _run(run)


@main.command()
@click.option("--port", type=int, default=9000, show_default=True, help="port to listen on")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--secret", multiple=True, envvar="HOOKLINE_LISTEN_SECRET",
              help="signing secret (whsec_... for standard); repeat during a rotation; also "
                   "read from HOOKLINE_LISTEN_SECRET, which `ps` does not show; without one, "
                   "requests are accepted unverified")
@click.option("--scheme", type=click.Choice(SCHEMES), default=STANDARD, show_default=True,
              help="signature scheme to verify")
@click.option("--header", default=None,
              help="signature header of the hex schemes (default x-webhook-signature)")
@click.option("--forward-to", metavar="URL", default=None,
              help="also send each accepted request here")
@click.option("--tolerance", type=int, default=DEFAULT_TOLERANCE, show_default=True,
              help="seconds of clock skew allowed (standard scheme)")
@click.option("--verbose", is_flag=True, help="also print every header and the body")
def listen(port: int, host: str, secret: tuple[str, ...], scheme: str, header: str | None,
           forward_to: str | None, tolerance: int, verbose: bool) -> None:
    """Run a local receiver that verifies and prints the webhooks it gets."""
    from .receiver.listen import run_listener

    try:
        run_listener(port, list(secret) or None, scheme, header, forward_to, host,
                     tolerance=tolerance, verbose=verbose)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    except KeyboardInterrupt:  # Ctrl-C before the listener was up: nothing to clean
        sys.exit(130)


def _redact_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


if __name__ == "__main__":
    main()
