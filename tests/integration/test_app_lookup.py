"""One application lookup for every use case: by id or uid, the internal operational
application does not exist; only the operational code, which holds it, reaches it."""

from __future__ import annotations

import pytest

from hookline.errors import NotFound
from hookline.runtime import Runtime


async def test_no_id_or_uid_finds_the_operational_application(runtime: Runtime) -> None:
    internal = await runtime.service.operational.ensure_app()

    for key in (internal.id, internal.uid):
        with pytest.raises(NotFound):
            await runtime.service.get_app(key)
        with pytest.raises(NotFound):
            await runtime.service.publish(key, "endpoint.created", {})
        with pytest.raises(NotFound):
            await runtime.service.list_endpoints(key, None, None)


async def test_the_operational_code_reaches_its_application_by_passing_it_in(
    runtime: Runtime
) -> None:
    internal = await runtime.service.operational.ensure_app()

    endpoint = await runtime.service.create_endpoint(internal, url="http://127.0.0.1:9/ops")
    listed = await runtime.service.list_endpoints(internal, None, None)

    assert endpoint.app_id == internal.id
    assert [e.id for e in listed.data] == [endpoint.id]
