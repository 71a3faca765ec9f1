"""`RedisStore`: de-duplication shared by every worker that reaches one Redis server."""

from __future__ import annotations

from typing import Any

from ._dedupe import DEFAULT_RETENTION

IN_PROGRESS = "in_progress"
DONE = "done"

# Deletes the key only while it is still in progress, in one atomic step on the server, so a
# failing handler can never erase a completion recorded by another worker.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore:
    """Claims as keys with a TTL: `SET NX PX` takes one, so only one worker wins a race.

    Pass a redis-py client (`redis.Redis`) or a URL; `redis` is imported only in the latter case
    so that `hookline.receiver` itself needs nothing beyond the standard library.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "hookline:receiver:",
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            import redis  # deferred on purpose: optional dependency

            client = redis.Redis.from_url(client)
        self.client = client
        self.prefix = prefix
        self.retention = retention

    def claim(self, key: str, ttl: float) -> bool:
        return bool(self.client.set(self.prefix + key, IN_PROGRESS, nx=True, px=_millis(ttl)))

    def complete(self, key: str) -> None:
        self.client.set(self.prefix + key, DONE, px=_millis(self.retention))

    def release(self, key: str) -> None:
        self.client.eval(_RELEASE, 1, self.prefix + key, IN_PROGRESS)

    def is_done(self, key: str) -> bool:
        value = self.client.get(self.prefix + key)
        if isinstance(value, bytes):
            value = value.decode()
        return bool(value == DONE)

    def close(self) -> None:
        """Close the connection pool if this store opened it from a URL."""
        if self._owns_client:
            self.client.close()


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))
