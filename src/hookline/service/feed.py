"""Pull feeds, Svix's polling endpoints: a partner reads, in publish order, the messages its
endpoint selects, at its own pace, from anywhere it can reach the API.

A polling endpoint (url `poller:`) has nothing pushed to it: its feed is every message of its
application that its event types and channels select. Every other endpoint's feed is what was
addressed to it, so a partner that lost data can read it again. A consumer's position is kept
by the server and moves only when the consumer asks for the page after it (passing the
iterator it was given), so a consumer that crashes mid-page reads that page again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import ids
from ..errors import InvalidInput
from ..models import Endpoint, Message
from ..store.base import Wanted
from .core import AppKey, ServiceCore, clamp_limit, endpoint_wants

START = ""  # a position before every message
MAX_CONSUMER_ID = 256


@dataclass(frozen=True)
class FeedPage:
    messages: list[Message]
    iterator: str  # where the next page starts (after this message id)
    done: bool  # nothing more for now


def position_at(epoch: float) -> str:
    """A position just before the messages created at or after `epoch` (ids sort by time)."""
    return ids.time_floor(ids.MESSAGE, epoch)


def _checked_position(iterator: str) -> str:
    if not iterator.startswith(ids.MESSAGE + "_") or len(iterator) > 64:
        raise InvalidInput("iterator is not one this feed gave", field="iterator")
    return iterator


class FeedUseCases(ServiceCore):
    """Reading feeds, with or without a consumer tracked by the server."""

    def _selection(self, endpoint: Endpoint, event_type: str | None,
                   channel: str | None) -> Wanted | None:
        wanting = replace(endpoint, disabled=False)
        if endpoint.is_poller:
            return lambda m: (endpoint_wants(wanting, m)
                              and (event_type is None or m.event_type == event_type)
                              and (channel is None or channel in (m.channels or [])))
        if event_type is None and channel is None:
            return None
        return lambda m: ((event_type is None or m.event_type == event_type)
                          and (channel is None or channel in (m.channels or [])))

    async def read_feed(self, app_key: AppKey, endpoint_key: str, *, limit: int | None,
                        iterator: str | None = None, after: float | None = None,
                        event_type: str | None = None,
                        channel: str | None = None) -> FeedPage:
        """A page of the endpoint's feed from `iterator` (else from `after`, else the start)."""
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        start = (_checked_position(iterator) if iterator
                 else position_at(after) if after is not None else START)
        return await self._page(endpoint, start, clamp_limit(limit),
                                self._selection(endpoint, event_type, channel))

    async def _page(self, endpoint: Endpoint, start: str, limit: int,
                    wanted: Wanted | None) -> FeedPage:
        if wanted is None and not endpoint.is_poller:
            messages, position = await self.store.feed_page(endpoint, start, limit, None)
        else:
            messages, position = await self.store.feed_page(
                endpoint, start, limit, wanted or (lambda _m: True))
        return FeedPage(messages, position, len(messages) < limit)

    async def read_as_consumer(self, app_key: AppKey, endpoint_key: str, consumer_id: str, *,
                               limit: int | None, iterator: str | None = None) -> FeedPage:
        """The consumer's next page. Passing the iterator of its last page acknowledges that
        page (its position moves there); without one it reads from where it stands."""
        _check_consumer(consumer_id)
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        if iterator:
            start = _checked_position(iterator)
            await self.store.set_feed_position(endpoint, consumer_id, start, self.clock())
        else:
            start = await self.store.feed_position(endpoint.id, consumer_id) or START
        return await self._page(endpoint, start, clamp_limit(limit),
                                self._selection(endpoint, None, None))

    async def seek_consumer(self, app_key: AppKey, endpoint_key: str, consumer_id: str,
                            after: float) -> str:
        """Move the consumer to just before the messages created after `after`."""
        _check_consumer(consumer_id)
        endpoint = await self.get_endpoint(app_key, endpoint_key)
        position = position_at(after)
        await self.store.set_feed_position(endpoint, consumer_id, position, self.clock())
        return position


def _check_consumer(consumer_id: str) -> None:
    if not 1 <= len(consumer_id) <= MAX_CONSUMER_ID or not consumer_id.isprintable():
        raise InvalidInput(f"consumer ids are 1-{MAX_CONSUMER_ID} printable characters",
                           field="consumer_id")
