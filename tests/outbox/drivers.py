"""One transaction per driver: publish an event in it, then commit or roll back. Sync
drivers run in a thread, as an application's request handler would."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from hookline import outbox

Write = Callable[[str, dict[str, Any], bool], Awaitable[None]]
EVENT = "order.paid"


def split_schema(url: str) -> tuple[str, str]:
    """`postgresql://...?search_path=s` as a plain URL and its schema (libpq takes no
    search_path parameter: psycopg and SQLAlchemy get it as a connection option)."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["search_path"][0]
    return urlunsplit(parts._replace(query="")), schema


async def with_asyncpg(url: str, payload: dict[str, Any], commit: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1")  # the application's own write would be here
        await outbox.publish(conn, "shop", EVENT, payload, ordering_key="order-1")
        await (tx.commit() if commit else tx.rollback())
    finally:
        await conn.close()


async def with_psycopg(url: str, payload: dict[str, Any], commit: bool) -> None:
    import psycopg

    base, schema = split_schema(url)

    def run() -> None:
        with psycopg.connect(base, options=f"-c search_path={schema}") as conn:
            outbox.publish(conn, "shop", EVENT, payload)
            conn.commit() if commit else conn.rollback()

    await asyncio.to_thread(run)


async def with_psycopg_async(url: str, payload: dict[str, Any], commit: bool) -> None:
    import psycopg

    base, schema = split_schema(url)
    async with await psycopg.AsyncConnection.connect(
            base, options=f"-c search_path={schema}") as conn:
        await outbox.publish(conn, "shop", EVENT, payload, channels=["orders"])
        await (conn.commit() if commit else conn.rollback())


async def with_sqlalchemy(url: str, payload: dict[str, Any], commit: bool) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    base, schema = split_schema(url)
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://"),
                           connect_args={"options": f"-c search_path={schema}"})

    def run() -> None:
        with Session(engine) as session:
            outbox.publish(session, "shop", EVENT, payload, event_id=f"evt-{payload['n']}")
            session.commit() if commit else session.rollback()

    try:
        await asyncio.to_thread(run)
    finally:
        engine.dispose()


async def with_sqlalchemy_async(url: str, payload: dict[str, Any], commit: bool) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    base, schema = split_schema(url)
    engine = create_async_engine(base.replace("postgresql://", "postgresql+asyncpg://"),
                                 connect_args={"server_settings": {"search_path": schema}})
    try:
        async with AsyncSession(engine) as session:
            await outbox.publish(session, "shop", EVENT, payload)
            await (session.commit() if commit else session.rollback())
    finally:
        await engine.dispose()


async def with_sqlite3(path: str, payload: dict[str, Any], commit: bool) -> None:
    def run() -> None:
        conn = sqlite3.connect(path)
        try:
            outbox.publish(conn, "shop", EVENT, payload)
            conn.commit() if commit else conn.rollback()
        finally:
            conn.close()

    await asyncio.to_thread(run)


POSTGRES_DRIVERS: dict[str, Write] = {
    "asyncpg": with_asyncpg,
    "psycopg": with_psycopg,
    "psycopg-async": with_psycopg_async,
    "sqlalchemy": with_sqlalchemy,
    "sqlalchemy-async": with_sqlalchemy_async,
}
