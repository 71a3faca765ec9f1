"""Fixtures for the receiver kit: a Redis server when there is one, stores of each kind."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.receiver import MemoryStore, RedisStore, SqliteStore

REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
def redis_client() -> Iterator[Any]:
    """A client of the local Redis server; skipped when there is none, except in CI."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI but unreachable at {REDIS_URL}: {error}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    yield client
    client.close()


@pytest.fixture
def redis_store(redis_client: Any) -> Iterator[RedisStore]:
    """A RedisStore under a key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"hookline-test:{uuid.uuid4().hex}:"
    yield RedisStore(redis_client, prefix=prefix)
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each real store in turn: the same behaviour is required of all three."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "dedupe.db")
    return request.getfixturevalue("redis_store")
