"""Checks on what users send: URLs, custom headers, delivery options. Errors name the field."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from urllib.parse import urlsplit

from .delivery.egress import (
    ALLOW_SETTING,
    EgressBlocked,
    EgressPolicy,
)
from .envelopes import validate_envelope
from .errors import InvalidInput
from .models import DeliveryOptions
from .retry import validate_schedule
from .signing import SCHEMES, signature_header_names

MAX_URL_LENGTH = 2048
MAX_TIMEOUT = 30.0
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
_FORBIDDEN_HEADERS = {
    "host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent",
    "te", "upgrade", "keep-alive", "proxy-authorization", "expect", "trailer",
}


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
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url must not contain credentials; use a custom header instead",
                           field="url")
    try:
        policy.check_url_literal(url)
    except EgressBlocked as exc:
        raise InvalidInput(f"url is not allowed: {exc.reason}", field="url") from None
    except ValueError as exc:
        raise InvalidInput(f"url is not valid: {exc}", field="url") from None
    _check_ipv4_spelling(parts.hostname)
    if production and parts.scheme != "https" and not policy.allows_plain_http(parts.hostname):
        raise InvalidInput("url must use https:// in production mode (plain http:// is only "
                           f"for networks allowed by {ALLOW_SETTING})", field="url")
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
    reserved = signature_header_names(options.signature_scheme, options.signature_header)
    clean: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidInput(f"header name {name!r} is not a valid HTTP header name",
                               field="headers")
        lowered = name.lower()
        if lowered in _FORBIDDEN_HEADERS or lowered in reserved or lowered.startswith("svix-"):
            raise InvalidInput(f"header {name!r} is set by Hookline and cannot be overridden",
                               field="headers")
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
            raise InvalidInput(f"header {name!r} has a value with CR, LF or NUL",
                               field="headers")
        if len(value) > 4096:
            raise InvalidInput(f"header {name!r} is longer than 4096 characters",
                               field="headers")
        clean[name] = value
    return clean


def check_options(options: DeliveryOptions) -> DeliveryOptions:
    if options.signature_scheme not in SCHEMES:
        raise InvalidInput(
            f"unknown signature scheme {options.signature_scheme!r}; choose one of "
            f"{', '.join(SCHEMES)}", field="signatureScheme")
    if options.signature_header is not None and not _HEADER_NAME.match(options.signature_header):
        raise InvalidInput("signatureHeader is not a valid HTTP header name",
                           field="signatureHeader")
    validate_envelope(options.envelope, options.json_style)
    validate_schedule(options.retry_schedule)
    if not 0.1 <= options.timeout <= MAX_TIMEOUT:
        raise InvalidInput(f"timeout must be between 0.1 and {MAX_TIMEOUT:g} seconds",
                           field="timeout")
    if options.disable_after_failures is not None and options.disable_after_failures < 1:
        raise InvalidInput("disableAfterFailures must be at least 1",
                           field="disableAfterFailures")
    if options.disable_after_seconds is not None and options.disable_after_seconds < 1:
        raise InvalidInput("disableAfterSeconds must be at least 1", field="disableAfterSeconds")
    if options.max_concurrency is not None and not 1 <= options.max_concurrency <= 1000:
        raise InvalidInput("maxConcurrency must be between 1 and 1000", field="maxConcurrency")
    return options
