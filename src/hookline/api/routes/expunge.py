"""Erasing content: Svix's four expunge routes, shapes from Svix's OpenAPI document.

Svix runs `expunge-all-contents` as a background task; Hookline finishes it, in batches,
before answering, and answers the task as `finished` (docs/retention.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from ... import ids
from ..deps import AppDep, ServiceDep
from ..schemas import InputSchema, Schema

router = APIRouter(prefix="/app/{app_id}/msg", tags=["Message"])
BACKGROUND_TASK = "qtask"


class BulkExpungeContentsIn(InputSchema):
    ids: list[str] = Field(default_factory=list, max_length=1000,
                           description="Message IDs or event IDs to expunge")


class BulkExpungeContentsOut(Schema):
    results: dict[str, Literal["expunged", "not-found"]]


class ExpungeAllContentsOut(Schema):
    id: str
    status: Literal["running", "finished", "failed"]
    task: Literal["application.purge_content"]
    updated_at: datetime


@router.delete("/{msg_id}/content", status_code=204)
async def expunge_message_content(app: AppDep, msg_id: str, service: ServiceDep) -> Response:
    """Erase the message's payload and its attempts' request headers and response bodies."""
    await service.expunge_message_content(app.id, msg_id)
    return Response(status_code=204)


@router.delete("/{msg_id}/attempt/{attempt_id}/content", status_code=204)
async def expunge_attempt_content(app: AppDep, msg_id: str, attempt_id: str,
                                  service: ServiceDep) -> Response:
    """Erase one attempt's request headers and response body."""
    await service.expunge_attempt_content(app.id, msg_id, attempt_id)
    return Response(status_code=204)


@router.post("/bulk-expunge", response_model=BulkExpungeContentsOut)
async def bulk_expunge(app: AppDep, body: BulkExpungeContentsIn,
                       service: ServiceDep) -> BulkExpungeContentsOut:
    """Expunge each message named; each answers `expunged` or `not-found`."""
    return BulkExpungeContentsOut(results=await service.bulk_expunge(app.id, body.ids))


@router.post("/expunge-all-contents", response_model=ExpungeAllContentsOut, status_code=202)
async def expunge_all_contents(app: AppDep, service: ServiceDep) -> ExpungeAllContentsOut:
    """Erase the content of every message and attempt of the application. Finished when
    this answers (Svix: a background task)."""
    await service.expunge_all_contents(app.id)
    return ExpungeAllContentsOut(id=ids.new_id(BACKGROUND_TASK), status="finished",
                                 task="application.purge_content",
                                 updated_at=datetime.now(UTC))
