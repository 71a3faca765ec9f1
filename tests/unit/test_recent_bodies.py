"""A message going to several endpoints is encoded once per envelope, not once per endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.delivery import request
from hookline.delivery.request import RecentBodies
from hookline.envelopes import build_body
from hookline.models import DeliveryOptions, Endpoint, Message

MESSAGE = Message(id="msg_1", app_id="app_1", event_type="a.b", payload={"n": "é/1"},
                  created_at=1_700_000_000.25)


def endpoint(n: int, envelope: str = "standard", style: str | None = None) -> Endpoint:
    return Endpoint(id=f"ep_{n}", app_id="app_1", url=f"https://hooks.example.test/{n}",
                    secret="whsec_a2trLWtrLWtrLWtrLWtrLWtrLWtrLWtrLWtrLWs=",
                    options=DeliveryOptions(envelope=envelope, json_style=style))


@pytest.fixture
def encodings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counted(message: Message, ep: Endpoint) -> Any:
        calls.append(ep.id)
        return build_body(message, ep)

    monkeypatch.setattr(request, "build_body", counted)
    return calls


def test_one_message_to_three_endpoints_is_encoded_once(encodings: list[str]) -> None:
    bodies = RecentBodies()
    got = [bodies.body(MESSAGE, endpoint(n)) for n in range(3)]
    assert got == [build_body(MESSAGE, endpoint(0))] * 3
    assert len(encodings) == 1


def test_each_json_style_and_endpoint_dependent_envelope_gets_its_own_body(
    encodings: list[str],
) -> None:
    bodies = RecentBodies()
    endpoints = [endpoint(0), endpoint(1, style="php"), endpoint(2, "partnero"),
                 endpoint(3, "partnero")]
    got = [bodies.body(MESSAGE, ep) for ep in endpoints]
    assert got == [build_body(MESSAGE, ep) for ep in endpoints]
    assert len(set(got)) == 4 and len(encodings) == 4


def test_large_bodies_are_not_kept(encodings: list[str]) -> None:
    bodies = RecentBodies(max_bytes=10)
    for n in range(2):
        bodies.body(MESSAGE, endpoint(n))
    assert len(encodings) == 2
