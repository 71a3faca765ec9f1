"""Checks on what users send: JSON values, text, URLs, custom headers, delivery options.
Errors name the field. The API, the portal and the service all call these, so a rule holds
whichever way a value comes in."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any
from urllib.parse import unquote, urlsplit

from .config import SIGNATURE_HEADER_STYLES
from .delivery.egress import (
    ALLOW_SETTING,
    EgressBlocked,
    EgressPolicy,
)
from .envelopes import validate_envelope
from .errors import InvalidInput
from .models import DeliveryOptions
from .retry import MIN_PROBE_DELAY, validate_schedule
from .signing import SCHEMES, signature_header_names

MAX_URL_LENGTH = 2048
# What a partner is told about an address the egress policy refuses (the operator's message
# names the setting that would allow it; a partner cannot change it).
PARTNER_BLOCKED = "this address cannot receive webhooks"
MAX_RATE_LIMIT = 1_000_000  # messages per second; Svix's rateLimit is a 32-bit integer too
MAX_TIMEOUT = 30.0
MAX_TEXT = 4096
# Custom headers go out on every delivery of the endpoint. Receivers' servers commonly refuse
# a request whose headers pass 8 KiB (nginx's default large_client_header_buffers, Node's
# 16 KiB total), and Hookline adds its own signature headers beside them: 20 headers and
# 8 KiB of names and values leave room for those and for every real use (a token or two).
MAX_HEADERS = 20
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 4096
MAX_HEADER_BYTES = 8 * 1024
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1," + str(MAX_HEADER_NAME) + "}$")
_FORBIDDEN_HEADERS = {
    "host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent",
    "te", "upgrade", "keep-alive", "proxy-authorization", "expect", "trailer",
}


# -- JSON values and text ----------------------------------------------------------------
def json_bytes(value: Any, field: str) -> bytes:
    """`value` as the compact UTF-8 JSON Hookline stores and signs. Refuses what RFC 8259
    cannot carry although Python's parser reads it: NaN, Infinity and numbers too large for a
    double (`1e999` reads as infinity), and lone UTF-16 surrogates (`"\\ud800"`) in strings or
    keys. Without this, the API would show `null`, the signed body would hold `NaN`, and a
    surrogate would fail to encode at all."""
    return _encoded(value, field, None)


def check_json(value: Any, field: str) -> None:
    """Refuse what `json_bytes` refuses, naming the path to the bad part. Values that are not
    JSON at all (a datetime in a parsed request) are left to other checks."""
    _encoded(value, field, _not_json)


def _encoded(value: Any, field: str, default: Callable[[Any], None] | None) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=default).encode()
    except RecursionError:
        raise InvalidInput(f"{field} is nested too deeply", field=field) from None
    except ValueError:
        _refuse_unsendable(value, field)
        raise


def _not_json(value: Any) -> None:
    return None


def _refuse_unsendable(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        spelling = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
        raise InvalidInput(f"{path}: {spelling} is not a JSON number (nor is a number beyond a "
                           "double's range, such as 1e999)", field=path)
    if isinstance(value, str) and not _encodable(value):
        raise InvalidInput(f"{path}: the text holds a lone UTF-16 surrogate, which is not "
                           "valid Unicode", field=path)
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{printable(str(key))}"
            if isinstance(key, str) and not _encodable(key):
                raise InvalidInput(f"{inner}: the key holds a lone UTF-16 surrogate, which is "
                                   "not valid Unicode", field=inner)
            _refuse_unsendable(item, inner)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_unsendable(item, f"{path}[{index}]")


def check_text(value: str, field: str, max_length: int | None = MAX_TEXT) -> str:
    """Text stored as it is (a description, a name): no NUL, which PostgreSQL's text cannot
    hold, no lone surrogate, which UTF-8 cannot, and at most `max_length` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    if "\x00" in value or not _encodable(value):
        raise InvalidInput(f"{field} contains a NUL or an invalid character", field=field)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return value


def printable(text: str) -> str:
    """`text` fit to quote in an error: a lone surrogate shown as its escape (`\\ud800`)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_url(url: str, policy: EgressPolicy, *, production: bool) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidInput("url is required", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url is longer than {MAX_URL_LENGTH} characters", field="url")
    if any(ch in url for ch in "\r\n\t ") or not url.isprintable():
        raise InvalidInput("url contains whitespace or control characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidInput(f"url is not valid: {exc}", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url must start with http:// or https://", field="url")
    if not parts.hostname:
        raise InvalidInput("url has no host", field="url")
    if "%" in parts.hostname and ":" not in parts.hostname:
        # Only an IPv6 zone (`[fe80::1%25eth0]`) may hold a `%`. A percent-encoded name hides
        # what it points at from the egress checks, and no resolver decodes it anyway.
        raise InvalidInput(f"url host must not be percent-encoded; write it as "
                           f"{printable(unquote(parts.hostname))!r}", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url must not contain credentials; use a custom header instead",
                           field="url")
    try:
        policy.check_url_literal(url)
    except EgressBlocked as exc:
        raise InvalidInput(f"url is not allowed: {exc.reason}", field="url",
                           partner=PARTNER_BLOCKED) from None
    except ValueError as exc:
        raise InvalidInput(f"url is not valid: {exc}", field="url") from None
    _check_ipv4_spelling(parts.hostname)
    if production and parts.scheme != "https" and not policy.allows_plain_http(parts.hostname):
        raise InvalidInput("url must use https:// in production mode (plain http:// is only "
                           f"for networks allowed by {ALLOW_SETTING})", field="url",
                           partner="url must use https://")
    return url


def _check_ipv4_spelling(host: str) -> None:
    """Refuse legacy IPv4 spellings (``2130706433``, ``127.1``, ``0x7f.0.0.1``): they hide what
    they point at, and the HTTP client refuses to connect to some of them."""
    address = EgressPolicy.literal_host_address(host)
    if isinstance(address, IPv4Address) and host != str(address):
        raise InvalidInput(f"url host {host!r} is an unusual spelling of {address}; write the "
                           f"address as {address}", field="url")


def check_headers(headers: dict[str, str] | None, options: DeliveryOptions) -> dict[str, str]:
    if not headers:
        return {}
    if len(headers) > MAX_HEADERS:
        raise InvalidInput(f"an endpoint has at most {MAX_HEADERS} custom headers",
                           field="headers")
    reserved = signature_header_names(options.signature_scheme, options.signature_header)
    clean: dict[str, str] = {}
    total = 0
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"header name {name!r} is not a valid HTTP header name",
                               field="headers")
        lowered = name.lower()
        if lowered in _FORBIDDEN_HEADERS or lowered in reserved or lowered.startswith("svix-"):
            raise InvalidInput(f"header {name!r} is set by Hookline and cannot be overridden",
                               field="headers")
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
            raise InvalidInput(f"header {name!r} has a value with CR, LF or NUL",
                               field="headers")
        check_text(value, "headers", max_length=None)
        if len(value) > MAX_HEADER_VALUE:
            raise InvalidInput(f"header {name!r} is longer than {MAX_HEADER_VALUE} characters",
                               field="headers")
        total += len(name) + len(value.encode())
        if total > MAX_HEADER_BYTES:
            raise InvalidInput(f"custom headers hold at most {MAX_HEADER_BYTES} bytes of names "
                               "and values together", field="headers")
        clean[name] = value
    return clean


def check_options(options: DeliveryOptions) -> DeliveryOptions:
    if options.signature_scheme not in SCHEMES:
        raise InvalidInput(
            f"unknown signature scheme {options.signature_scheme!r}; choose one of "
            f"{', '.join(SCHEMES)}", field="signatureScheme")
    header = options.signature_header
    if header is not None and not _HEADER_NAME.fullmatch(header):
        raise InvalidInput("signatureHeader is not a valid HTTP header name",
                           field="signatureHeader")
    validate_envelope(options.envelope, options.json_style)
    if options.signature_headers not in SIGNATURE_HEADER_STYLES:
        raise InvalidInput("signatureHeaders must be one of "
                           f"{', '.join(SIGNATURE_HEADER_STYLES)}", field="signatureHeaders")
    if options.rate_limit is not None and not 1 <= options.rate_limit <= MAX_RATE_LIMIT:
        raise InvalidInput(f"rateLimit must be between 1 and {MAX_RATE_LIMIT}",
                           field="rateLimit")
    validate_schedule(options.retry_schedule)
    validate_schedule(options.probe_schedule, "probeSchedule", MIN_PROBE_DELAY)
    if not 0.1 <= options.timeout <= MAX_TIMEOUT:
        raise InvalidInput(f"timeout must be between 0.1 and {MAX_TIMEOUT:g} seconds",
                           field="timeout")
    if options.disable_after_failures is not None and options.disable_after_failures < 1:
        raise InvalidInput("disableAfterFailures must be at least 1",
                           field="disableAfterFailures")
    seconds = options.disable_after_seconds
    if seconds is not None and not (math.isfinite(seconds) and seconds >= 1):
        raise InvalidInput("disableAfterSeconds must be a number of seconds, at least 1",
                           field="disableAfterSeconds")
    if options.max_concurrency is not None and not 1 <= options.max_concurrency <= 1000:
        raise InvalidInput("maxConcurrency must be between 1 and 1000", field="maxConcurrency")
    return options
