"""Self-healing endpoints: an endpoint its failure rule disabled is probed on a back-off with
the oldest message it missed; the first probe that succeeds enables it again and replays,
in publish order, everything it missed. See docs/recovery.md.

A person's disabling is final until a person enables the endpoint: it is never probed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from .. import ids
from ..delivery.transport import send_message
from ..errors import Conflict, NotFound
from ..logs import log_ids
from ..models import (
    Attempt,
    AttemptTrigger,
    DeliveryStatus,
    DisabledBy,
    Endpoint,
    Message,
)
from ..retry import probe_delay, recovers_itself
from ..store.base import DeliveryResult, ReplayCount, ReplayWindow
from ..store.core import delivery_id_for
from .core import ALL_EVENTS, AppKey, ServiceCore, endpoint_wants
from .operational import ENABLED_BY_PROBE

log = logging.getLogger(__name__)

PROBE_BATCH = 32  # endpoints probed per pass of the prober
# An endpoint whose application or itself turned self-healing off is looked at again this
# often, so turning it on later takes effect.
NOT_RECOVERING_RECHECK = 3600.0
# What an endpoint missed without an ordering key of its own is replayed under this one, so
# it arrives one message at a time, in publish order.
RECOVERY_KEY_PREFIX = "~recovery:"
# After the replay commits, messages published this shortly before it are looked at once more
# (a publish that read the old routing and committed after the replay's scan).
CATCH_UP_SECONDS = 5.0


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe did: the attempt it made (None: nothing was missed, nothing sent) and
    whether the endpoint is enabled again."""

    attempt: Attempt | None
    enabled: bool
    replayed: int = 0


def _missed_since(endpoint: Endpoint) -> float:
    return endpoint.missed_since or endpoint.updated_at


def _wanted_by(endpoint: Endpoint) -> ReplayWindow:
    """What a disabled endpoint has missed: every message since its failures began that it
    would have been sent, queued ones included, replayed one key at a time in order. Like
    every replay it is queued as `manual`, so the claim never ranks it with live first
    attempts."""
    enabled = replace(endpoint, disabled=False)
    return ReplayWindow(
        since=_missed_since(endpoint), until=None,
        wanted=lambda m: endpoint_wants(enabled, m), include_pending=True,
        ordering_key=lambda m: m.ordering_key or RECOVERY_KEY_PREFIX + endpoint.id)


class RecoveryUseCases(ServiceCore):
    """Probes, self-healing and the "Retry now" action."""

    async def probe_due_endpoints(self) -> int:
        """One pass of the prober: schedule the first probe of newly disabled endpoints and
        make the probes that are due. Returns how many probes were sent."""
        now = self.clock()
        sent = 0
        for endpoint in await self.store.endpoints_to_probe(now, PROBE_BATCH):
            try:
                if endpoint.next_probe_at is None:
                    await self._schedule_first_probe(endpoint, now)
                elif (await self._probe(endpoint, now)).attempt is not None:
                    sent += 1
            except Exception:  # one endpoint's trouble must not stop the others' probes
                log.exception("probe of endpoint %s failed", endpoint.id,
                              extra=log_ids(app=endpoint.app_id, endpoint=endpoint.id))
        return sent

    async def retry_now(self, app_key: AppKey, endpoint_key: str) -> ProbeOutcome:
        """Probe a disabled endpoint at once ("Retry now"), whatever its schedule says."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        if not endpoint.disabled:
            raise Conflict("the endpoint is enabled; there is nothing to retry")
        if endpoint.disabled_by != DisabledBy.RULE:
            raise Conflict("the endpoint was disabled by hand; enable it instead")
        return await self._probe(endpoint, self.clock())

    async def waiting_count(self, endpoint: Endpoint) -> int:
        """How many messages a disabled endpoint has missed (0 for one that is enabled),
        counted in the database: every GET of the endpoint and portal page asks."""
        if not endpoint.disabled or endpoint.disabled_by != DisabledBy.RULE:
            return 0
        every_event = endpoint.filter_types is None or ALL_EVENTS in endpoint.filter_types
        return await self.store.count_missed(
            endpoint, _missed_since(endpoint),
            None if every_event else endpoint.filter_types, endpoint.channels)

    async def _recovers(self, endpoint: Endpoint) -> bool:
        try:
            app = await self.store.get_app(endpoint.app_id)
        except NotFound:
            return False
        return recovers_itself(endpoint, app)

    async def _schedule_first_probe(self, endpoint: Endpoint, now: float) -> None:
        delay = (probe_delay(endpoint.options, 0) if await self._recovers(endpoint)
                 else NOT_RECOVERING_RECHECK)
        await self.store.move_probe(endpoint.id, now + delay, None, 0)

    async def _probe(self, endpoint: Endpoint, now: float) -> ProbeOutcome:
        """Send the oldest message the endpoint missed; heal it if that works."""
        if not await self._recovers(endpoint):
            await self.store.move_probe(endpoint.id, now + NOT_RECOVERING_RECHECK,
                                        endpoint.next_probe_at, endpoint.probes_made)
            return ProbeOutcome(None, False)
        # Hold the probe for a lease's length, so no other process probes meanwhile.
        held = now + self.settings.lease_seconds
        if not await self.store.move_probe(endpoint.id, held, endpoint.next_probe_at,
                                           endpoint.probes_made):
            return ProbeOutcome(None, False)
        window = _wanted_by(endpoint)
        message = await self.store.oldest_missed(endpoint, window)
        if message is None:  # nothing to probe with: look again later
            await self.store.move_probe(endpoint.id, now + probe_delay(endpoint.options,
                                                                       endpoint.probes_made),
                                        held, endpoint.probes_made)
            return ProbeOutcome(None, False)
        result = await self._send_probe(endpoint, message, now)
        if not result.attempt.succeeded:
            made = endpoint.probes_made + 1
            await self.store.move_probe(endpoint.id, self.clock() + probe_delay(
                endpoint.options, made), held, made)
            return ProbeOutcome(result.attempt, False)
        replayed = await self._heal(endpoint, result)
        return ProbeOutcome(result.attempt, replayed is not None,
                            replayed.count if replayed else 0)

    async def _send_probe(self, endpoint: Endpoint, message: Message,
                          now: float) -> DeliveryResult:
        """A real delivery of `message`, stored as an attempt with trigger `probe`."""
        made = await self.store.ensure_delivery(message, endpoint.id, now)
        sent = await send_message(self.transport, message, endpoint, now,
                                  self.settings.lease_seconds)
        attempt = sent.outcome.as_attempt(
            attempt_id=ids.new_id(ids.ATTEMPT), delivery_id=delivery_id_for(message.id,
                                                                            endpoint.id),
            message=message, endpoint=endpoint, started=now, trigger=AttemptTrigger.PROBE,
            request_headers=sent.request_headers, attempt_number=made + 1)
        status = DeliveryStatus.SUCCEEDED if attempt.succeeded else DeliveryStatus.PENDING
        result = DeliveryResult(attempt, None, status, None if attempt.succeeded else now)
        await self.store.record_results([result], lambda _endpoint, _at: None)
        return result

    async def _heal(self, endpoint: Endpoint, probe: DeliveryResult) -> ReplayCount | None:
        """Enable the endpoint and queue what it missed; tell the operator."""
        now = self.clock()
        window = _wanted_by(endpoint)
        replayed = await self.store.enable_and_replay(endpoint, now, window)
        if replayed is None:
            return None
        late = replace(window, since=max(window.since, now - CATCH_UP_SECONDS), until=now,
                       include_pending=False)
        replayed.count += (await self.store.replay_missed(endpoint, late, self.clock())).count
        log.info("endpoint %s answered its probe: enabled, %d missed messages queued",
                 endpoint.id, replayed.count,
                 extra=log_ids(app=endpoint.app_id, endpoint=endpoint.id))
        self.on_due()
        enabled = replace(endpoint, disabled=False, disabled_reason=None, disabled_by=None)
        await self.operational.endpoint_enabled(enabled, ENABLED_BY_PROBE)
        await self.operational.attempt_recovered(probe)
        return replayed


async def run_prober(service: RecoveryUseCases, interval: float,
                     stopping: asyncio.Event) -> None:
    """Probe due endpoints every `interval` seconds until `stopping` is set."""
    while not stopping.is_set():
        try:
            await service.probe_due_endpoints()
        except Exception:  # the database may be away; the next pass tries again
            log.warning("prober: a pass failed", exc_info=True)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=interval)
        except TimeoutError:
            pass
