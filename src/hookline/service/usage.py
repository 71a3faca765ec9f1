"""Svix's usage statistics, computed as background tasks (`GET /background-task/{id}`).

`application.stats`: per application, the deliveries ("message destinations") created in a
window. `event-type.aggregate`: per application, the event types its enabled endpoints
listen to (null: all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput, NotFound
from ..models import JSON, BackgroundTask
from .tasks import TaskProgress, TaskUseCases

APPLICATION_STATS = "application.stats"
EVENT_TYPE_AGGREGATE = "event-type.aggregate"


@dataclass(frozen=True)
class UsageTask:
    task: BackgroundTask
    unresolved_app_ids: list[str]


class UsageUseCases(TaskUseCases):
    async def start_app_usage(self, since: float, until: float,
                              app_keys: list[str] | None = None) -> UsageTask:
        """Start counting each application's deliveries in [since, until); of `app_keys`
        (ids or uids) only, if given: those that name nothing are reported back, and if
        none names an application the request is refused."""
        if until < since:
            raise InvalidInput("until must not be before since", field="until")
        apps, unresolved = [], []
        for key in app_keys or []:
            try:
                apps.append(await self.get_app(key))
            except NotFound:
                unresolved.append(key)
        if app_keys and not apps:
            raise InvalidInput("none of appIds names an application", field="appIds")
        uids = {app.id: app.uid for app in apps}

        async def count(progress: TaskProgress) -> JSON:
            counts = await self.store.app_delivery_counts(
                since, until, [a.id for a in apps] if app_keys else None)
            internal = await self.operational.app_id()
            return {"appStats": [{"appId": app_id, "appUid": uids.get(app_id),
                                  "messageDestinations": n}
                                 for app_id, n in sorted(counts.items()) if app_id != internal]}

        task = await self.start_task(APPLICATION_STATS, count)
        return UsageTask(task, unresolved)

    async def start_event_type_usage(self) -> BackgroundTask:
        async def aggregate(progress: TaskProgress) -> JSON:
            listened: dict[str, set[str] | None] = {}
            internal = await self.operational.app_id()
            for app_id, filters in await self.store.endpoint_filters():
                if app_id == internal:
                    continue
                known = listened.setdefault(app_id, set())
                if filters is None or known is None:
                    listened[app_id] = None
                else:
                    known.update(filters)
            return {"applications": [
                {"appId": app_id, "eventTypes": None if types is None else sorted(types)}
                for app_id, types in sorted(listened.items())]}

        return await self.start_task(EVENT_TYPE_AGGREGATE, aggregate)
