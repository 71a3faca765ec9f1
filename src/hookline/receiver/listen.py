"""`hookline listen`: a local webhook receiver for development, on the standard library only.

It verifies each request, prints one line per event, answers 204 (401 for a bad signature) and
can forward the raw request to your app. Run as `python -m hookline.receiver.listen --help`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from ._errors import WebhookVerificationError
from ._signing import SCHEMES, STANDARD
from ._verify import DEFAULT_TOLERANCE, ID_HEADERS
from ._webhook import Webhook

DEFAULT_PORT = 9000
MAX_BODY_BYTES = 10 * 1024 * 1024
FORWARD_TIMEOUT = 10.0
"""Seconds to wait for the app behind --forward-to; the sender already has its answer."""

_SHUTDOWN_POLL = 0.1
"""Seconds between the serving loop's checks for a stop request: Ctrl-C feels immediate."""

EVENT_TYPE_KEYS = ("type", "event", "eventType")
_FIELD_WIDTH = 80

# Connection-level headers describe the hop to us, not the request: never pass them on.
_HOP_BY_HOP = frozenset({
    "connection", "content-length", "host", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})


@dataclass(frozen=True)
class ListenerSettings:
    """What the listener checks and where it forwards; `webhook` is None without a secret."""

    webhook: Webhook | None
    forward_to: str | None
    out: TextIO
    verbose: bool = False


class Listener(ThreadingHTTPServer):
    """A threading HTTP server that carries its settings and serialises its output lines."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: ListenerSettings) -> None:
        super().__init__(address, _ListenerHandler)
        self.settings = settings
        self._print_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def say(self, line: str) -> None:
        with self._print_lock:
            try:
                print(line, file=self.settings.out, flush=True)
            except UnicodeEncodeError:  # a terminal that cannot show what a sender wrote
                ascii_line = line.encode("ascii", "backslashreplace").decode("ascii")
                print(ascii_line, file=self.settings.out, flush=True)


class _ListenerHandler(BaseHTTPRequestHandler):
    server: Listener
    server_version = "hookline-listen"
    # HTTP/1.1 for keep-alive and `Expect: 100-continue` (curl sends it for larger bodies and
    # would otherwise pause a second); every reply carries a Content-Length.
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._receive()

    do_PUT = do_POST
    do_PATCH = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the one-line summaries replace the default access log."""

    def _receive(self) -> None:
        settings = self.server.settings
        body = self._read_body()
        if body is None:
            self.close_connection = True  # the unread body cannot be skipped on this connection
            self._reply(413, {"error": "body_too_large"})
            request_line = f"{self.command} {_clean(self.path)}"
            self.server.say(f"{_now()}  {request_line}  rejected: body too large")
            return
        headers = list(self.headers.items())
        verdict, refusal = _check(settings.webhook, body, headers)
        if refusal is not None:
            self._reply(401, {"error": refusal.reason, "message": refusal.message})
        else:
            self._reply(204, None)
            if settings.forward_to:
                verdict += "  " + forward(settings.forward_to, self.command, headers, body)
        line = summary_line(self.command, self.path, headers, body, verdict)
        self.server.say(line + ("\n" + details(headers, body) if settings.verbose else ""))

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(max(length, 0))

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                length = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                return b"".join(chunks)
            if length == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(self.rfile.read(length))
            self.rfile.readline(8)  # the CRLF closing each chunk

    def _reply(self, status: int, payload: dict[str, str] | None) -> None:
        content = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if content:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(content)
        self.wfile.flush()


def _check(
    webhook: Webhook | None, body: bytes, headers: list[tuple[str, str]]
) -> tuple[str, WebhookVerificationError | None]:
    """The verdict printed for a request, and the error that refuses it if any."""
    if webhook is None:
        return "unverified (no secret)", None
    try:
        webhook.verify_signature(body, headers)
    except WebhookVerificationError as error:
        return f"NOT VERIFIED ({error.reason})", error
    return "verified", None


def summary_line(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes, verdict: str
) -> str:
    """`<time>  POST /path  <event type>  id=<event id>  <verdict>  <size> bytes`."""
    event = _json_or_none(body)
    event_type = _first_text(event, EVENT_TYPE_KEYS) or "-"
    lowered = {name.lower(): value for name, value in headers}
    event_id = next((lowered[n] for n in ID_HEADERS if lowered.get(n)), None)
    event_id = event_id or _first_text(event, ("id",)) or "-"
    return (
        f"{_now()}  {method} {_clean(path)}  {_clean(event_type)}  id={_clean(event_id)}  "
        f"{verdict}  {len(body)} bytes"
    )


def details(headers: list[tuple[str, str]], body: bytes) -> str:
    """Every header and the body as received, indented under the summary (`--verbose`).
    Control characters are shown escaped: request data must not drive the terminal."""
    lines = [f"    {_visible(name)}: {_visible(value)}" for name, value in headers]
    text = body.decode("utf-8", "replace")
    lines += ["", *(f"    {_visible(part)}" for part in text.splitlines())] if text else []
    return "\n".join(lines)


def _visible(text: str) -> str:
    return "".join(c if c.isprintable() or c == "\t" else
                   c.encode("unicode_escape").decode("ascii") for c in text)


def forward(url: str, method: str, headers: list[tuple[str, str]], body: bytes) -> str:
    """Send the raw request on to `url`; the result as text for the summary line."""
    request = urllib.request.Request(
        url,
        data=body,
        method=method,
        headers={name: value for name, value in headers if name.lower() not in _HOP_BY_HOP},
    )
    try:
        with _OPENER.open(request, timeout=FORWARD_TIMEOUT) as response:
            return f"forwarded -> {response.status}"
    except urllib.error.HTTPError as error:
        return f"forwarded -> {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return f"forward FAILED ({_clean(str(reason))})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the app's answer: following it would turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies: the app behind --forward-to is local, and a proxy from the environment must not
# see (or redirect) signed traffic meant for it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def make_listener(
    port: int,
    secret: str | list[str] | None,
    scheme: str = STANDARD,
    header: str | None = None,
    forward_to: str | None = None,
    host: str = "127.0.0.1",
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    out: TextIO | None = None,
    verbose: bool = False,
) -> Listener:
    """A bound, not yet serving listener (port 0 picks a free port; see `.url`).

    Raises `ValueError` for an unusable secret, scheme or forward URL.
    """
    webhook = Webhook(secret, scheme, header=header, tolerance=tolerance) if secret else None
    if forward_to and not forward_to.startswith(("http://", "https://")):
        raise ValueError(f"--forward-to must be an http(s) URL, not {forward_to!r}")
    settings = ListenerSettings(webhook, forward_to, out or sys.stdout, verbose)
    return Listener((host, port), settings)


def run_listener(
    port: int,
    secret: str | list[str] | None,
    scheme: str = STANDARD,
    header: str | None = None,
    forward_to: str | None = None,
    host: str = "127.0.0.1",
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    out: TextIO | None = None,
    verbose: bool = False,
) -> None:
    """Serve until SIGINT or SIGTERM, printing where it listens and one line per request."""
    listener = make_listener(
        port, secret, scheme, header, forward_to, host, tolerance=tolerance, out=out,
        verbose=verbose,
    )
    with _stop_on_signals(listener):
        # Announced only once a signal stops us cleanly: whoever waits for this line may stop us.
        listener.say(_banner(listener, scheme, forward_to))
        try:
            listener.serve_forever(poll_interval=_SHUTDOWN_POLL)
        finally:
            listener.server_close()
    listener.say("Stopped.")


def _banner(listener: Listener, scheme: str, forward_to: str | None) -> str:
    if listener.settings.webhook is None:
        check = "no secret: requests are NOT verified"
    else:
        check = f"verifying {scheme} signatures"
    forwarding = f"; forwarding to {forward_to}" if forward_to else ""
    return f"Listening on {listener.url} ({check}{forwarding}). Press Ctrl-C to stop."


@contextmanager
def _stop_on_signals(listener: Listener) -> Iterator[None]:
    """SIGINT/SIGTERM shut the server down from a helper thread (`shutdown` waits for the
    serving loop, so calling it from the loop's own thread would deadlock)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=listener.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hookline listen",
        description="Receive webhooks locally: verify, print one line per event, forward.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    parser.add_argument("--host", default="127.0.0.1", help="default %(default)s")
    parser.add_argument(
        "--secret", action="append",
        help="signing secret (whsec_... for standard); repeat during a rotation; "
        "without it requests are accepted unverified",
    )
    parser.add_argument("--scheme", choices=SCHEMES, default=STANDARD, help="default %(default)s")
    parser.add_argument("--header", help="signature header of the hex schemes "
                        "(default x-webhook-signature)")
    parser.add_argument("--forward-to", metavar="URL", help="also send each accepted request here")
    parser.add_argument("--tolerance", type=int, default=DEFAULT_TOLERANCE,
                        help="seconds of clock skew allowed (standard scheme), default %(default)s")
    parser.add_argument("--verbose", action="store_true",
                        help="also print every header and the body of each request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run_listener(
            args.port, args.secret, args.scheme, args.header, args.forward_to, args.host,
            tolerance=args.tolerance, verbose=args.verbose,
        )
    except ValueError as error:
        print(f"hookline listen: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"hookline listen: cannot listen on {args.host}:{args.port}: {error}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the listener was up: nothing to clean
        return 130
    return 0


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _first_text(event: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(event, dict):
        return None
    for key in keys:
        value = event.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _clean(text: str) -> str:
    """Printable and short: request data must never break the one-line-per-event output."""
    printable = "".join(c if c.isprintable() and c not in "\r\n" else "?" for c in text)
    return printable if len(printable) <= _FIELD_WIDTH else printable[: _FIELD_WIDTH - 3] + "..."


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S")


if __name__ == "__main__":
    raise SystemExit(main())
