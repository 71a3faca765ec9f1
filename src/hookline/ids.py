"""Resource ids: a type prefix and a time-sortable base62 body, like Svix's KSUID-based ids.

Sortable ids make `iterator` pagination a plain `id < $iterator` comparison. Within one process
they are also strictly increasing (as ULIDs made "monotonically"): an id made in the same
millisecond as the one before continues from it by a random step, so two messages published
one after the other list in that order.
"""

from __future__ import annotations

import random as _random
import secrets
import threading
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


# Two base62 digits at a time: half the divisions of one at a time, on the claim's hot path.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _base62(number: int, width: int) -> str:
    chars = []
    if width % 2:
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    for _ in range(width // 2):
        number, rest = divmod(number, 3844)
        chars.append(_PAIRS[rest])
    return "".join(reversed(chars))


_STEP_BITS = 32  # of the random step between two ids of one millisecond


class _Monotonic:
    """This process's last id made for "now": (milliseconds, random part)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0, 0)
        # The steps within a millisecond need no secrecy (the part they step from is made by
        # `secrets`), and a system call per id would cost more than the rest of it.
        self._steps = _random.Random(secrets.randbits(128))

    def next(self, count: int = 1) -> list[tuple[int, int]]:
        """`count` successive (milliseconds, random part) pairs."""
        made = []
        with self._lock:
            now = int(time.time() * 1000)
            millis, random = self._last
            for _ in range(count):
                if now > millis:
                    millis, random = now, secrets.randbits(_RANDOM_BITS)
                else:  # the same millisecond (or the clock stepped back)
                    random += 1 + self._steps.getrandbits(_STEP_BITS)
                    if random >> _RANDOM_BITS:  # the millisecond is used up: the next one
                        millis, random = millis + 1, secrets.randbits(_RANDOM_BITS - 1)
                made.append((millis, random))
            self._last = (millis, random)
        return made


_monotonic = _Monotonic()


def new_id(prefix: str, *, now: float | None = None) -> str:
    """A new id such as `msg_0Ot8p3Ytq2sXyh1iJ5rN0M6bK9d`, ordered by creation time; `now`
    (a given time, say a backdated one) is taken as it is, without the ordering within the
    process."""
    if now is not None:
        return _format(prefix, int(now * 1000), secrets.randbits(_RANDOM_BITS))
    return _format(prefix, *_monotonic.next()[0])


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` new ids, in increasing order, as `new_id` would make them one by one."""
    return [_format(prefix, millis, random) for millis, random in _monotonic.next(count)]


def _format(prefix: str, millis: int, random: int) -> str:
    return f"{prefix}_{_base62(millis, _TIME_CHARS)}{_base62(random, _RANDOM_CHARS)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 1 + 25


def time_floor(prefix: str, epoch: float) -> str:
    """A string that sorts just before every id of `prefix` made at or after `epoch`."""
    return f"{prefix}_{_base62(int(epoch * 1000), _TIME_CHARS)}"
