"""The producer library's boundaries: a curated public API, nothing but the standard library
at import (the application brings its own driver), and mistakes refused in the application."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import types

import pytest

from hookline import outbox
from tests.receiver.support import child_env

HEAVY = ("asyncpg", "psycopg", "sqlalchemy", "django", "aiohttp", "fastapi", "starlette",
         "pydantic", "uvicorn", "click", "cryptography")


def test_the_public_api_is_exactly_what_all_lists() -> None:
    public = {name for name, value in vars(outbox).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}

    assert set(outbox.__all__) == public


def test_importing_the_outbox_loads_no_driver_and_nothing_of_the_server() -> None:
    script = "import json, sys, hookline.outbox\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], env=child_env(), text=True,
                            capture_output=True, check=True)
    loaded = json.loads(result.stdout)

    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    assert [m for m in loaded if m.startswith("hookline.")
            and not m.startswith("hookline.outbox")] == []


def test_a_connection_of_an_unknown_driver_is_refused_by_name() -> None:
    with pytest.raises(outbox.OutboxError, match=r"does not know connections of builtins\.dict"):
        outbox.publish({}, "shop", "order.paid", {"id": 1})


@pytest.mark.parametrize(("payload", "why"), [
    ([1, 2], "payload must be a dict"),
    ({"at": object()}, "payload is not JSON"),
    ({"x": float("nan")}, "payload is not JSON"),
])
def test_a_payload_that_is_no_json_object_is_refused_and_nothing_written(
        payload: object, why: str) -> None:
    conn = sqlite3.connect(":memory:")
    outbox.create_table(conn)

    with pytest.raises(outbox.OutboxError, match=why):
        outbox.publish(conn, "shop", "order.paid", payload)  # type: ignore[arg-type]

    assert conn.execute(f"SELECT count(*) FROM {outbox.TABLE}").fetchone() == (0,)


def test_creating_the_table_twice_keeps_its_rows() -> None:
    conn = sqlite3.connect(":memory:")
    outbox.create_table(conn)
    row_id = outbox.publish(conn, "shop", "order.paid", {"id": 1}, channels=["orders"])
    outbox.create_table(conn)

    assert conn.execute(f"SELECT id, channels FROM {outbox.TABLE}").fetchall() == [
        (row_id, '["orders"]')]


def test_relay_without_a_source_says_so_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "hookline.cli", "relay"], text=True,
                            capture_output=True, env=child_env())

    assert result.returncode == 1
    assert result.stderr.strip() == "Error: name an outbox with --source URL (or " \
                                    "HOOKLINE_OUTBOX_SOURCES)"
