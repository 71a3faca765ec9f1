"""Schemathesis drives every operation of a running server from its own /openapi.json and finds
no server error and no response that contradicts the schema (status, content type, body,
headers). SQLite only: the contract does not depend on the database. A quick run: `make fuzz`
runs every phase of schemathesis with many more examples (tests/fuzz/).

Safety: generated endpoint URLs can name any host, so this server's sender (also the
worker's) refuses everything but loopback addresses without resolving or connecting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks as st_checks

from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.fuzzing import LoopbackOnlySender, real_resources
from tests.support.receiver import Receiver

MAX_EXAMPLES = 10
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance,
          st_checks.content_type_conformance, st_checks.response_schema_conformance,
          st_checks.response_headers_conformance]


@pytest.fixture
async def fuzzed_api(tmp_path: Path) -> AsyncIterator[ApiServer]:
    settings_ = make_settings(f"sqlite:///{tmp_path}/fuzz.db", tmp_path)
    runtime = await Runtime.start(settings_, sender=LoopbackOnlySender(settings_))
    await runtime.service.ensure_admin_token()
    server = await ApiServer(runtime, ADMIN_TOKEN).start()
    yield server
    await server.stop()
    await runtime.stop()


def fuzz(base_url: str, admin_token: str, app_token: str,
         ids: dict[str, str]) -> list[str]:
    """Run every operation; return one line per failing operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Destructive operations last, so the real resources serve the others first.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    failures = []
    for operation in operations:
        token = app_token if operation.path.startswith("/v1/webhooks") else admin_token
        params = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        strategy = operation.as_strategy()
        if params:
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters=params))
        try:
            _run(strategy, lambda case, t=token: case.call_and_validate(
                headers={"Authorization": f"Bearer {t}"}, checks=CHECKS))
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises groups
            failures.append(f"{operation.label}: {exc!r}"[:3000])
    return failures


def _run(strategy: st.SearchStrategy[Any], check: Callable[[Any], Any]) -> None:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    run()


async def test_every_operation_conforms_to_the_openapi_schema(
    fuzzed_api: ApiServer, receiver: Receiver
) -> None:
    ids, app_token = await real_resources(fuzzed_api, receiver)
    failures = await asyncio.to_thread(fuzz, fuzzed_api.base_url, ADMIN_TOKEN, app_token, ids)
    assert failures == [], "\n\n".join(failures)
