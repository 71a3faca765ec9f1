"""What the portal tests share: a realistic event catalogue, portal links, HTTP sessions."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from hookline.models import EventType
from hookline.service import Service
from tests.support.api import ApiServer

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _schema(required: dict[str, str]) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {name: {"type": kind} for name, kind in required.items()}}


CATALOGUE = [
    EventType("customer.created", "A customer was referred and signed up.",
              _schema({"id": "string", "email": "string"}),
              {"id": "cust_456", "email": "customer@example.com", "partner": "partner_abc123"}),
    EventType("customer.updated", "A customer's details changed.",
              _schema({"id": "string"}), {"id": "cust_456", "email": "new@example.com"}),
    EventType("customer.deleted", "A customer was deleted.", _schema({"id": "string"}),
              {"id": "cust_456"}),
    EventType("partner.created", "A partner signed up or was created.",
              _schema({"id": "string", "email": "string"}),
              {"id": "partner_abc123", "email": "partner@example.com", "name": "John",
               "status": "pending"}),
    EventType("partner.approved", "A partner's application was approved.",
              _schema({"id": "string"}), {"id": "partner_abc123", "status": "approved"}),
    EventType("transaction.created", "A sale was recorded.",
              _schema({"key": "string", "amount": "number"}),
              {"key": "txn_123", "amount": 99.99, "currency": "USD",
               "customer": {"id": "cust_456"}, "reward": {"amount": 19.99}}),
    EventType("reward.approved", "A commission was approved for payout.",
              _schema({"id": "string", "amount": "number"}),
              {"id": "reward_789", "amount": 19.99, "currency": "USD"}),
    EventType("verification.completed", "A verification finished successfully.",
              _schema({"verificationId": "string", "status": "string"}),
              {"verificationId": "ver_abc123", "sessionId": 123, "status": "VERIFIED"}),
]


async def seed_catalogue(service: Service) -> None:
    for et in CATALOGUE:
        await service.upsert_event_type(et)


async def portal_link(api: ApiServer, app_id: str) -> str:
    """A signed link into the portal of the test server (the service's own link names the
    configured public URL, not the test server's port)."""
    _, token = await api.runtime.service.create_portal_access(app_id, 600)
    return f"{api.base_url}/portal/access?token={token}"


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


class PortalClient:
    """A plain HTTP client holding one portal session, for exact status codes."""

    def __init__(self, api: ApiServer) -> None:
        self.base = api.base_url
        # unsafe: keep cookies for an IP-address host (127.0.0.1)
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def open(self, link: str) -> None:
        async with self.http.get(link) as resp:
            assert resp.status == 200, await resp.text()

    async def token(self) -> str:
        status, html = await self.get("/portal/")
        assert status == 200, html
        return csrf_token(html)

    async def post(self, path: str, data: dict[str, str] | None = None,
                   csrf: str | None = None) -> int:
        fields = dict(data or {})
        if csrf is not None:
            fields["csrf_token"] = csrf
        async with self.http.post(self.base + path, data=fields, allow_redirects=False) as resp:
            return resp.status
