"""The updates of a chat reach the core in the order they arrived, also when some first fetch a file.

A channel fetches a photo or a voice note from its platform before the core sees it (the core
holds no network call in its transaction). Meanwhile a text the person sent just after it may
arrive: without care it would reach the core first and answer the question meant for the photo.
:class:`ArrivalOrder` keeps a chat's line: an update waits until the one before it has taken its
place in the core's own line (:meth:`~handlers.messages.MessageProcessor.serve` takes it before
it first awaits), so the core handles them in arrival order. Updates of a chat with nothing
being fetched go straight in, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from handlers.messages import Delivered, Inbound, MessageProcessor, Outbound


class ArrivalOrder:
    """One line per chat key for the updates that arrive while an earlier one is being prepared."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}

    async def serve(
        self,
        processor: MessageProcessor,
        chat: str,
        inbound: Inbound,
        deliver: Callable[[list[Outbound]], Awaitable[Delivered]],
        prepare: Callable[[Inbound], Awaitable[Inbound]] | None = None,
    ) -> Delivered:
        """``processor.serve(inbound, deliver)`` in ``chat``'s arrival order; ``prepare`` (fetching
        the file) runs first, alongside the updates before it.

        Call it before anything else is awaited for the update, so that its place is taken at arrival.
        """
        previous = self._tails.get(chat)
        if prepare is None and previous is None:
            return await processor.serve(inbound, deliver)  # takes its place in the core's line at once
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[chat] = turn
        try:
            if prepare is not None:
                inbound = await prepare(inbound)
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # (not ``await previous``: a cancelled waiter must not cancel it)
            serving = asyncio.ensure_future(processor.serve(inbound, deliver))
            # One turn of the loop: the task's first step takes its place in the core's line.
            await asyncio.sleep(0)
        finally:
            turn.set_result(None)
            if self._tails.get(chat) is turn:
                del self._tails[chat]
        return await serving
