"""Group commit: the updates that arrive while a transaction is busy share the next one.

A chat update is a few indexed statements of microseconds each; what costs is everything around
them: taking a connection, BEGIN and COMMIT (on SQLite two hand-offs to aiosqlite's worker
thread, on PostgreSQL two round trips and a WAL flush). When many people answer at once, their
updates queue behind the one being committed anyway, so the next transaction takes all of them
(up to ``max_batch``) and commits them together. Nobody waits for a batch to fill: an update
that finds the line empty starts at once, alone, exactly as without batching.

This module only knows how to gather items and hand results back; what "running a batch"
means (and what to do when one item of it fails) is the caller's ``run_batch``.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Feeds submitted items to ``run_batch`` in batches, at most ``parallel`` batches at a time.

    ``run_batch(items)`` must return one result per item, in order; if it raises, every item of
    that batch gets the exception. Results are handed back in submission order per batch.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 64,
        parallel: int = 1,
    ) -> None:
        if max_batch < 1 or parallel < 1:
            raise ValueError("max_batch and parallel must be at least 1")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.parallel = parallel
        self._waiting: collections.deque[tuple[Item, asyncio.Future[Result]]] = collections.deque()
        self._draining = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """Run ``item`` in the next batch; returns its result once that batch is done.

        Cancelling the caller withdraws the item if no batch has taken it yet. It does not
        withdraw an item a batch has already taken: that batch runs it to the end and its effects
        may be committed (like a request that reached the server before the client gave up); the
        result is dropped, and the other items of the batch get theirs as usual.
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._draining < self.parallel:
            self._draining += 1
            task = asyncio.create_task(self._drain())
            # Keep a reference: the loop holds tasks only weakly.
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        """Run batches until nothing is waiting."""
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                batch = self._take_batch()
                if not batch:
                    break  # everything that was waiting had been withdrawn
                try:
                    results = await self._run_batch([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"a batch of {len(batch)} items gave {len(results)} results")
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
                batch = []
        except asyncio.CancelledError:
            # The loop is shutting down: nobody will run what is left, so say so to its waiters.
            self._abandon(batch)
            if self._draining == 1:
                self._abandon(list(self._waiting))
                self._waiting.clear()
            raise
        finally:
            self._draining -= 1

    def _take_batch(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        """Up to ``max_batch`` waiting items, skipping those whose submitter was cancelled: an
        item no batch has taken yet is withdrawn with its submitter (nobody waits for it, and its
        submitter may already have let go of what made running it safe, such as its chat's lock)."""
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        while self._waiting and len(batch) < self.max_batch:
            entry = self._waiting.popleft()
            if not entry[1].done():
                batch.append(entry)
        return batch

    @staticmethod
    def _abandon(batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for _, future in batch:
            if not future.done():
                future.cancel()
