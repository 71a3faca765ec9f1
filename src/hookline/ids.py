"""Resource ids: a type prefix and a time-sortable base62 body, like Svix's KSUID-based ids.

Sortable ids make `iterator` pagination a plain `id < $iterator` comparison. Within one process
they are also strictly increasing (as ULIDs made "monotonically"): an id made in the same
millisecond as the one before continues from it by a random step, so two messages published
one after the other list in that order.
"""

from __future__ import annotations

import functools
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


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


# Two base62 digits at a time, for the one part every new id encodes afresh (`_eight`).
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


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


# The random part as two halves of 8 digits: ids made one after another share the time and
# the high half, so each id encodes only its low half (small integers, cheap divisions).
_HALF = 62**8


@functools.lru_cache(maxsize=64)
def _time_text(millis: int) -> str:
    return _base62(millis, _TIME_CHARS)


@functools.lru_cache(maxsize=64)
def _high_text(high: int) -> str:
    return _base62(high, _RANDOM_CHARS // 2)


def _eight(number: int) -> str:
    """`_base62(number, 8)`, unrolled: the part of every id that is new."""
    number, d = divmod(number, 3844)
    number, c = divmod(number, 3844)
    a, b = divmod(number, 3844)
    return _PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[d]


class IdReserve:
    """Ids made ahead for a statement that takes a list of them and uses the first few (a
    claim takes an attempt id per delivery it may lease, and usually leases a handful):
    the unused rest serve the next call, if it comes within `max_age` seconds, so each id
    is still made about when it is used, and every list handed out is in increasing order.
    Not shared across threads."""

    def __init__(self, prefix: str, max_age: float) -> None:
        self.prefix = prefix
        self.max_age = max_age
        self._spare: list[str] = []
        self._made_at = 0.0

    def take(self, count: int) -> list[str]:
        """`count` ids: the spare ones still fresh, then new ones."""
        now = time.monotonic()
        if now - self._made_at > self.max_age:
            self._spare = []
        taken, self._spare = self._spare[:count], self._spare[count:]
        if len(taken) < count:
            if not taken:
                self._made_at = now
            taken += new_ids(self.prefix, count - len(taken))
        return taken

    def give_back(self, unused: list[str]) -> None:
        """The ids of a list `take` returned that were not used (all after the used ones)."""
        if not unused:
            return
        if self._spare and unused[-1] > self._spare[0]:  # newer ones came back meanwhile
            self._spare = sorted(unused + self._spare)
        else:
            self._spare = unused + self._spare


def _format(prefix: str, millis: int, random: int) -> str:
    high, low = divmod(random, _HALF)
    return f"{prefix}_{_time_text(millis)}{_high_text(high)}{_eight(low)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 1 + 25


def time_floor(prefix: str, epoch: float) -> str:
    """A string that sorts just before every id of `prefix` made at or after `epoch`."""
    return f"{prefix}_{_base62(int(epoch * 1000), _TIME_CHARS)}"
