"""Presets: the whole delivery contract of one public webhook specification, in one word.

`"preset": "smile"` on an endpoint sets what Smile promises its partners (signature scheme and
header, envelope, retry schedule, timeout, disable rule); fields sent beside it override it.
Each contract is read from the specification itself; docs/presets.md shows the request each one
produces and how that specification's own sample receiver verifies it.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import InvalidInput
from .models import DeliveryOptions
from .retry import DEFAULT_SCHEDULE

STANDARD = "standard"
SVIX = "svix"
SMILE = "smile"
CR3DENTIALS = "cr3dentials"
PARTNERO = "partnero"
TRADEVEST = "tradevest"

_FIVE_DAYS = 5 * 24 * 3600.0

PRESETS: dict[str, DeliveryOptions] = {
    # Standard Webhooks v1: Hookline's own default, written out so the endpoint reads it back.
    STANDARD: DeliveryOptions(
        signature_scheme="standard", envelope="standard", retry_schedule=list(DEFAULT_SCHEDULE),
        timeout=10.0, disable_after_seconds=_FIVE_DAYS),
    # What Svix sends: the payload unwrapped, Standard Webhooks signature in svix-* headers,
    # Svix's schedule, its hosted 15 s deadline, disabled after five days of failure.
    SVIX: DeliveryOptions(
        signature_scheme="standard", signature_headers="svix", envelope="raw",
        retry_schedule=list(DEFAULT_SCHEDULE), timeout=15.0, disable_after_seconds=_FIVE_DAYS),
    # Smile: HMAC-SHA512 hex of the raw body in Smile-Signature, `{id, version, type,
    # createdAt, data}`, at most two retries "tens of seconds" apart; it never disables.
    SMILE: DeliveryOptions(
        signature_scheme="hmac-sha512-hex", signature_header="Smile-Signature",
        envelope="smile", retry_schedule=[30.0, 30.0], timeout=10.0,
        disable_after_seconds=None),
    # cr3dentials: HMAC-SHA256 hex in x-webhook-signature, `{type, status, data}`, answer
    # within 10 s, retries at 1, 2, 4, 8, 16 s; after 5 failed attempts the webhook is inactive.
    CR3DENTIALS: DeliveryOptions(
        signature_scheme="hmac-sha256-hex", signature_header="x-webhook-signature",
        envelope="cr3dentials", retry_schedule=[1.0, 2.0, 4.0, 8.0, 16.0], timeout=10.0,
        disable_after_failures=5, disable_after_seconds=None),
    # Partnero: HMAC-SHA256 hex of PHP json_encode bytes in Signature, `{event, url,
    # webhook_key, created_at, data}`, answer within 5 s, retries after 1 min, 5 min, 30 min,
    # 2 h; then that delivery is failed, the webhook stays on.
    PARTNERO: DeliveryOptions(
        signature_scheme="hmac-sha256-hex", signature_header="Signature", envelope="partnero",
        retry_schedule=[60.0, 300.0, 1800.0, 7200.0], timeout=5.0, disable_after_seconds=None),
    # Tradevest prescribes no signature and sends each notification as its event schema
    # describes it: Standard Webhooks signing over the payload unwrapped. One endpoint per
    # object type (`channels`) and `orderingKey` per object are chosen at the call.
    TRADEVEST: DeliveryOptions(
        signature_scheme="standard", envelope="raw", retry_schedule=list(DEFAULT_SCHEDULE),
        timeout=10.0, disable_after_seconds=_FIVE_DAYS),
}
PRESET_NAMES = tuple(PRESETS)


def preset_options(name: str | None) -> DeliveryOptions:
    """A fresh copy of the preset's options; Hookline's defaults without a preset."""
    if name is None:
        return DeliveryOptions()
    try:
        options = PRESETS[name]
    except KeyError:
        raise InvalidInput(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}",
                           field="preset") from None
    schedule = options.retry_schedule
    return replace(options, retry_schedule=None if schedule is None else list(schedule))
