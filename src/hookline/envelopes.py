"""Payload envelopes and JSON encodings, one per seed specification.

`build_body` turns a message into the exact bytes that are signed and sent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput
from .models import Endpoint, Message

STANDARD = "standard"
SMILE = "smile"
PARTNERO = "partnero"
CR3DENTIALS = "cr3dentials"
RAW = "raw"

COMPACT = "compact"
PHP = "php"
JSON_STYLES = (COMPACT, PHP)

_FAILED_SUFFIXES = (".failed", ".failure", ".error", "_FAILED")


@functools.lru_cache(maxsize=1024)
def iso_time(epoch: float) -> str:
    """RFC 3339 in UTC with a `Z`, millisecond precision trimmed when zero."""
    moment = datetime.fromtimestamp(epoch, UTC)
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def _standard(message: Message, endpoint: Endpoint) -> Any:
    return {"type": message.event_type, "timestamp": iso_time(message.created_at),
            "data": message.payload}


def _smile(message: Message, endpoint: Endpoint) -> Any:
    return {"id": message.event_id or message.id, "version": 1, "type": message.event_type,
            "createdAt": iso_time(message.created_at), "data": message.payload}


def _partnero(message: Message, endpoint: Endpoint) -> Any:
    return {"event": message.event_type, "url": endpoint.url, "webhook_key": endpoint.id,
            "created_at": iso_time(message.created_at), "data": message.payload}


def _cr3dentials(message: Message, endpoint: Endpoint) -> Any:
    """`{type, status, data}`: a payload of exactly `{status, data}` is used as it is;
    otherwise the status is `failed` for event types that name a failure, else `success`."""
    payload = message.payload
    if set(payload) == {"status", "data"}:
        return {"type": message.event_type, "status": payload["status"], "data": payload["data"]}
    failed = message.event_type.endswith(_FAILED_SUFFIXES)
    return {"type": message.event_type, "status": "failed" if failed else "success",
            "data": payload}


def _raw(message: Message, endpoint: Endpoint) -> Any:
    return message.payload


ENVELOPES: dict[str, Callable[[Message, Endpoint], Any]] = {
    STANDARD: _standard,
    SMILE: _smile,
    PARTNERO: _partnero,
    CR3DENTIALS: _cr3dentials,
    RAW: _raw,
}

# Partnero signs PHP json_encode output; everyone else gets compact UTF-8.
DEFAULT_JSON_STYLE = {PARTNERO: PHP}


def encode_json(value: Any, style: str = COMPACT) -> bytes:
    """Compact JSON. `compact`: UTF-8, no escaping beyond JSON's own (what JSON.stringify
    writes). `php`: what PHP's json_encode writes: `\\/` and `\\uXXXX` for non-ASCII."""
    if style == PHP:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
        return text.replace("/", "\\/").encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# Envelopes whose bytes depend on the message alone, not on the endpoint it goes to.
PER_MESSAGE = frozenset({STANDARD, SMILE, CR3DENTIALS, RAW})


def body_style(endpoint: Endpoint) -> tuple[str, str]:
    """The envelope and JSON style of an endpoint's bodies."""
    envelope = endpoint.options.envelope
    return envelope, endpoint.options.json_style or DEFAULT_JSON_STYLE.get(envelope, COMPACT)


def build_body(message: Message, endpoint: Endpoint) -> bytes:
    """The exact request body for one message to one endpoint."""
    envelope, style = body_style(endpoint)
    return encode_json(ENVELOPES[envelope](message, endpoint), style)


def validate_envelope(envelope: str, json_style: str | None) -> None:
    if envelope not in ENVELOPES:
        raise InvalidInput(
            f"unknown envelope {envelope!r}; choose one of {', '.join(ENVELOPES)}",
            field="envelope")
    if json_style is not None and json_style not in JSON_STYLES:
        raise InvalidInput(
            f"unknown JSON style {json_style!r}; choose one of {', '.join(JSON_STYLES)}",
            field="jsonStyle")
