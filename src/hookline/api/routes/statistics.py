"""Svix's usage statistics: each request starts a background task (202) whose `data` holds
the figures once finished (`GET /api/v1/background-task/{task_id}`)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import AdminDep, ServiceDep
from ..idempotency import ACCOUNT, IdempotencyDep
from ..svix_schemas import AppUsageStatsIn, AppUsageStatsOut, BackgroundTaskStarted

router = APIRouter(prefix="/stats/usage", tags=["Statistics"])


@router.post("/app", response_model=AppUsageStatsOut, status_code=202)
async def aggregate_app_stats(body: AppUsageStatsIn, admin: AdminDep, service: ServiceDep,
                              idempotency: IdempotencyDep) -> AppUsageStatsOut:
    """Count each application's message destinations (deliveries) in [since, until)."""

    async def start() -> AppUsageStatsOut:
        started = await service.start_app_usage(body.since.timestamp(), body.until.timestamp(),
                                                body.app_ids)
        shown = BackgroundTaskStarted.of(started.task).model_dump()
        return AppUsageStatsOut(**shown, unresolved_app_ids=started.unresolved_app_ids)

    return await idempotency.once(ACCOUNT, 202, AppUsageStatsOut, start)


@router.put("/event-types", response_model=BackgroundTaskStarted, status_code=202)
async def aggregate_event_types(admin: AdminDep, service: ServiceDep) -> BackgroundTaskStarted:
    """List, per application, the event types its enabled endpoints listen to."""
    return BackgroundTaskStarted.of(await service.start_event_type_usage())
