"""Case-insensitive header lookup over whatever a framework hands us.

Frameworks disagree on header containers (dicts, lists of pairs, Starlette `Headers`, werkzeug
`EnvironHeaders`, Django `HttpHeaders`, raw ASGI byte pairs), so verification first flattens them
into one shape and never trusts the container to behave.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._errors import MALFORMED_HEADER, WebhookVerificationError

HeaderValues = dict[str, list[str]]


def normalize_headers(headers: Any) -> HeaderValues:
    """Lower-cased name -> every value received under it, in order.

    Entries that are not a (name, value) pair of text, bytes or integers are skipped rather
    than fatal: they cannot be the signature headers we look for.
    """
    result: HeaderValues = {}
    for pair in _pairs(headers):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            continue
        name, value = _as_text(pair[0]), _as_text(pair[1])
        if name is None or value is None:
            continue
        result.setdefault(name.strip().lower(), []).append(value.strip())
    return result


def header_value(headers: HeaderValues, *names: str) -> str | None:
    """The value of the first of `names` present; repeated identical values count as one.

    Two different values under one name are ambiguous, and refused as malformed.
    """
    for name in names:
        values = headers.get(name)
        if values:
            if any(v != values[0] for v in values):
                raise WebhookVerificationError(MALFORMED_HEADER, f"conflicting {name} headers")
            return values[0]
    return None


def _pairs(headers: Any) -> Iterable[Any]:
    try:
        items = headers.items() if hasattr(headers, "items") else headers
        return list(items)
    except Exception:
        return []


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
