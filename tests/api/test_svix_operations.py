"""Every operation of Svix's open-source server, and of its public API's core tags, is served
by Hookline (same method, same path) or named below with the issue that brings it; every
operation of the cloud-only families answers a problem+json 404 saying it is not offered.

Svix's OpenAPI documents are read in place from `../shared/svix/` beside the checkout (its
README says which versions), or from `$HOOKLINE_SVIX_OPENAPI_DIR`; they are not copied here.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hookline.api import create_app
from hookline.runtime import Runtime
from tests.conftest import IN_CI
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings

REPO = Path(__file__).resolve().parents[2]
SVIX_DIR = Path(os.environ.get("HOOKLINE_SVIX_OPENAPI_DIR") or REPO / ".." / "shared" / "svix")
OSS_SERVER = "oss-server-openapi.json"
PUBLIC_API = "public-api-openapi.json"
# The public API's tags that make a Svix drop-in (issue #17); the rest are cloud-only.
CORE_TAGS = {"Application", "Endpoint", "Message", "Message Attempt", "Event Type",
             "Authentication", "Background Task", "Statistics", "Health"}
METHODS = ("get", "post", "put", "patch", "delete")

# Operations another issue brings, by (method, path).
BROUGHT_BY = {
}
# Operations in the core tags that belong to a cloud-only family (answered not offered).
CLOUD_ONLY_IN_CORE_TAGS = {
    ("GET", "/api/v1/app/{}/endpoint/{}/transformation"),
    ("PATCH", "/api/v1/app/{}/endpoint/{}/transformation"),
}


def normalized(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def svix_document(name: str) -> dict[str, Any]:
    path = SVIX_DIR / name
    if not path.is_file():
        message = (f"Svix's OpenAPI document {path} is missing: ../shared/svix/ beside the "
                   "checkout, or set HOOKLINE_SVIX_OPENAPI_DIR")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def operations(document: dict[str, Any], tags: set[str] | None = None,
               public_only: bool = False) -> Iterator[tuple[str, str, str]]:
    """(method, normalized path, first tag) of each operation, those with `tags` if given."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            if public_only and operation.get("x-internal"):
                continue
            tag = (operation.get("tags") or [""])[0]
            if tags is None or tag in tags:
                yield method.upper(), normalized(path), tag


@functools.cache
def served() -> frozenset[tuple[str, str]]:
    """What Hookline's own OpenAPI document declares (the routes it serves)."""
    app = create_app(make_settings("sqlite:///:memory:", "."), with_worker=False)
    document = app.openapi()
    return frozenset((method.upper(), normalized(path))
                     for path, item in document["paths"].items() for method in item
                     if method in METHODS)


def test_every_open_source_svix_operation_is_served_or_brought_by_another_issue() -> None:
    ours = served()
    missing = [(m, p) for m, p, _ in operations(svix_document(OSS_SERVER))
               if (m, p) not in ours and (m, p) not in BROUGHT_BY]
    assert missing == []


def test_every_core_public_operation_is_served_brought_or_not_offered() -> None:
    ours = served()
    missing = [(m, p, t) for m, p, t in operations(svix_document(PUBLIC_API), CORE_TAGS, True)
               if (m, p) not in ours and (m, p) not in BROUGHT_BY
               and (m, p) not in CLOUD_ONLY_IN_CORE_TAGS]
    assert missing == []


def test_the_allow_list_names_only_operations_hookline_does_not_serve() -> None:
    """Once an issue lands, its operations leave the list (or this test fails)."""
    ours = served()
    assert [op for op in BROUGHT_BY if op in ours] == []
    assert [op for op in CLOUD_ONLY_IN_CORE_TAGS if op in ours] == []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiServer]:
    data = tmp_path_factory.mktemp("ops")
    runtime = await Runtime.start(make_settings(f"sqlite:///{data}/hookline.db", data),
                                  with_worker=False)
    await runtime.service.ensure_admin_token()
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield server
    await server.stop()
    await runtime.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_every_cloud_only_operation_answers_not_offered(api: ApiServer) -> None:
    document = svix_document(PUBLIC_API)
    cloud = [(m, p) for m, p, t in operations(document) if t not in CORE_TAGS
             and not p.startswith("/api/v1/operational-webhook")]
    cloud += sorted(CLOUD_ONLY_IN_CORE_TAGS)
    answers = {}
    for method, path in cloud:
        got = await api.request(method, path.replace("{}", "x1"),
                                {} if method in ("POST", "PUT", "PATCH") else None)
        answers[(method, path)] = (got.status, got.body.get("code")
                                   if isinstance(got.body, dict) else got.body)

    assert len(cloud) > 100
    assert {op: a for op, a in answers.items() if a != (404, "not_offered")} == {}
