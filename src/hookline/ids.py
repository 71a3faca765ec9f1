"""Resource ids: a type prefix and a time-sortable base62 body, like Svix's KSUID-based ids.

Sortable ids make `iterator` pagination a plain `id < $iterator` comparison.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TIME_CHARS = 9  # 62**9 milliseconds is far beyond any date we care about
_RANDOM_CHARS = 16
_RANDOM_BITS = 95  # 62**16 > 2**95: every value fits in the random part

APPLICATION = "app"
ENDPOINT = "ep"
MESSAGE = "msg"
ATTEMPT = "atmpt"
DELIVERY = "dlv"
TOKEN = "tok"
PORTAL_LINK = "plnk"
EVENT_TYPE = "evtype"
BACKGROUND_TASK = "qtask"


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str, *, now: float | None = None) -> str:
    """A new id such as `msg_0Ot8p3Ytq2sXyh1iJ5rN0M6bK9d`, ordered by creation time."""
    millis = int((time.time() if now is None else now) * 1000)
    body = _base62(millis, _TIME_CHARS) + _base62(secrets.randbits(_RANDOM_BITS), _RANDOM_CHARS)
    return f"{prefix}_{body}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 1 + 25


def time_floor(prefix: str, epoch: float) -> str:
    """A string that sorts just before every id of `prefix` made at or after `epoch`."""
    return f"{prefix}_{_base62(int(epoch * 1000), _TIME_CHARS)}"
