"""What an endpoint may hold: a bounded set of custom headers (20, 8 KiB of names and values,
docs/management-api.md), whichever route sets them, and only a URL whose host is written as it
is (not percent-encoded)."""

from __future__ import annotations

import pytest

from hookline.validation import MAX_HEADER_BYTES, MAX_HEADERS
from tests.support.api import ApiServer

URL = "http://127.0.0.1:9/hook"


async def new_app(api: ApiServer) -> str:
    created = await api.post("/api/v1/app", {"name": "limits"})
    assert created.status == 201
    return f"/api/v1/app/{created.body['id']}"


def headers(count: int, value_size: int = 1) -> dict[str, str]:
    return {f"x-h{i:02}": "v" * value_size for i in range(count)}


def filling(total: int) -> dict[str, str]:
    """Eight headers whose names and values add up to exactly `total` bytes."""
    names = [f"x-h{i}" for i in range(8)]
    room = total - sum(len(n) for n in names)
    return {name: "v" * (room // 8 + (1 if i < room % 8 else 0)) for i, name in enumerate(names)}


async def test_an_endpoint_holds_up_to_the_documented_headers_and_no_more(api: ApiServer) -> None:
    app = await new_app(api)

    at_count = await api.post(f"{app}/endpoint", {"url": URL, "headers": headers(MAX_HEADERS)})
    at_bytes = await api.post(f"{app}/endpoint",
                              {"url": URL, "headers": filling(MAX_HEADER_BYTES)})
    over_count = await api.post(f"{app}/endpoint",
                                {"url": URL, "headers": headers(MAX_HEADERS + 1)})
    over_bytes = await api.post(f"{app}/endpoint",
                                {"url": URL, "headers": filling(MAX_HEADER_BYTES + 1)})
    the_issue = await api.post(f"{app}/endpoint", {"url": URL, "headers": headers(200, 4096)})

    assert (at_count.status, at_bytes.status) == (201, 201), (at_count.body, at_bytes.body)
    for refused in (over_count, over_bytes, the_issue):
        assert refused.status == 422 and refused.body["field"] == "headers", refused.body
    assert "at most 20 custom headers" in over_count.body["detail"]
    assert "at most 8192 bytes" in over_bytes.body["detail"]


async def test_the_headers_routes_keep_the_bound_and_the_old_headers(api: ApiServer) -> None:
    app = await new_app(api)
    ep = (await api.post(f"{app}/endpoint", {"url": URL, "headers": headers(15)})).body["id"]
    path = f"{app}/endpoint/{ep}/headers"

    put_over = await api.put(path, {"headers": headers(MAX_HEADERS + 1)})
    patch_over = await api.patch(path, {"headers": {f"x-new{i}": "v" for i in range(6)}})
    patch_swap = await api.patch(path, {"headers": {f"x-new{i}": "v" for i in range(6)},
                                        "deleteHeaders": ["x-h00"]})

    assert put_over.status == 422 and put_over.body["field"] == "headers"
    assert patch_over.status == 422 and patch_over.body["field"] == "headers"
    assert patch_swap.status == 204, patch_swap.body
    assert len((await api.get(path)).body["headers"]) == MAX_HEADERS


@pytest.mark.parametrize("url", ["http://%31%32%37.0.0.1:9/hook", "http://exa%6Dple.com/hook",
                                 "https://EXA%4DPLE.com/", "http://127.0.0.1%2e:9/"])
async def test_a_url_with_a_percent_encoded_host_is_refused_at_creation(
        api: ApiServer, url: str) -> None:
    app = await new_app(api)
    ep = (await api.post(f"{app}/endpoint", {"url": URL})).body["id"]

    created = await api.post(f"{app}/endpoint", {"url": url})
    changed = await api.patch(f"{app}/endpoint/{ep}", {"url": url})

    for refused in (created, changed):
        assert refused.status == 422, refused.body
        assert refused.body["field"] == "url" and "percent-encoded" in refused.body["detail"]


async def test_percent_signs_elsewhere_in_the_url_are_fine(api: ApiServer) -> None:
    app = await new_app(api)

    created = await api.post(f"{app}/endpoint", {"url": "http://127.0.0.1:9/a%20b?q=%31"})

    assert created.status == 201, created.body
