"""Publish webhooks from a FastAPI + SQLAlchemy application, in the transaction of its own
write: an order and its `order.created` event commit together or not at all.

    pip install -e '.[outbox]' fastapi uvicorn
    export DATABASE_URL=postgresql+psycopg://app@127.0.0.1/shop
    python examples/outbox_fastapi_sqlalchemy.py 8001
    hookline relay --source postgresql://app@127.0.0.1/shop --to http://127.0.0.1:8000 --token ...

POST /orders {"item": "book"} stores the order and its event; with "fail": true the handler
raises after both writes, the transaction rolls back, and no webhook is ever sent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from hookline import outbox

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///./shop.db"))


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str] = mapped_column(String(100))


class NewOrder(BaseModel):
    item: str
    fail: bool = False


def transaction() -> Iterator[Session]:
    """One session and one transaction per request: committed if the handler returns."""
    with Session(engine) as session, session.begin():
        yield session


app = FastAPI()


@app.post("/orders", status_code=201)
def create_order(new: NewOrder, session: Session = Depends(transaction)) -> dict[str, int]:
    order = Order(item=new.item)
    session.add(order)
    session.flush()  # the order's id, for the event
    outbox.publish(session, "shop", "order.created", {"order": order.id, "item": new.item},
                   ordering_key=f"order-{order.id}")
    if new.fail:  # anything that goes wrong after the writes takes the event with it
        raise HTTPException(500, "the order could not be completed")
    return {"id": order.id}


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else "8001")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:  # in a real project: a migration (see docs/outbox.md)
        outbox.create_table(conn)
    print(f"shop on http://127.0.0.1:{port}/orders", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
