"""Svix's cloud-only families (streams and sinks, ingest, connectors, integrations,
environments, transformations and the like): Hookline does not offer them, and says so with
a problem+json 404 rather than a bare "not found" that looks like a wrong id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..problems import problem

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Path prefixes under /api/v1 (and Svix's separate /ingest/api/v1), by family.
FAMILIES = {
    "streams": ("/api/v1/stream", "/api/v1/auth/stream", "/api/v1/auth/stream-logout",
                "/api/v1/auth/stream-portal-access", "/api/v1/app/{app_id}/stream"),
    "sinks": ("/api/v1/app/{app_id}/destination",),
    "ingest": ("/ingest/api/v1",),
    "connectors": ("/api/v1/connector", "/api/v1/app/{app_id}/endpoint/{endpoint_id}/connector"),
    "integrations": ("/api/v1/app/{app_id}/integration",),
    "environments": ("/api/v1/environment", "/api/v1/management"),
    "transformations": ("/api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation",),
    "webhooks auto-config": ("/api/v1/app/{app_id}/auto-config",
                             "/api/v1/app/{app_id}/endpoint/{endpoint_id}/auto-config"),
    "inbound webhooks": ("/api/v1/app/{app_id}/inbound",),
    "broadcasts": ("/api/v1/msg/broadcast",),
    "the events feed": ("/api/v1/events",),
}


def _answer(family: str) -> object:
    async def not_offered(request: Request) -> Response:
        return problem(404, "Not offered",
                       f"Hookline does not offer Svix's {family} (a Svix cloud feature); see "
                       "docs/management-api.md for what it serves", code="not_offered")

    return not_offered


for _family, _prefixes in FAMILIES.items():
    for _prefix in _prefixes:
        for _path in (_prefix, _prefix + "/{rest:path}"):
            router.add_api_route(_path, _answer(_family), methods=METHODS,  # type: ignore[arg-type]
                                 name=f"not offered: {_family}")
