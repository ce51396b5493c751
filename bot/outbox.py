"""The outbox sender: sends the messages of :mod:`storage.outbox` (staff answers to data requests...).

It runs inside ``baraza run`` beside the broadcast dispatcher and uses the same
:class:`bot.dispatcher.Sender` per channel and the same rate limiter, so answers and broadcasts
together never exceed the platform's rate. It polls the table every ``poll_interval`` (an answer
given from the CLI, another process, reaches the person within about that time) and idles with
one cheap read when there is nothing to send.

Crash safety is the broadcast dispatcher's (see :mod:`bot.dispatcher`): a row is committed
``sending`` before its send; on start, rows still ``sending`` become ``unknown`` and are not
resent; on a clean stop the sends under way finish and claimed rows that never left go back to
``pending``. One row per chat is in flight at a time, so a person's messages keep their order
("in progress" before the answer). Message texts are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from bot import metrics
from bot.dispatcher import MaybeSent, NotSent, RecipientBlocked, Rejected, Sender
from bot.ratelimit import RateLimiter, SendRateLimiter
from handlers.messages import Outbound
from handlers.outbox import decode
from storage.database import Database
from storage.outbox import BLOCKED, FAILED, PENDING, SENT, UNKNOWN, OutboxMessage, OutboxOutcome, OutboxRepository

log = logging.getLogger(__name__)

WAITING, CALLING, RETRYING = "waiting", "calling", "retrying"
RECORD_RETRIES = 10


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    """Claims pending outbox rows and sends them through ``senders`` at ``limiter``'s rate."""

    def __init__(
        self,
        database: Database,
        senders: Iterable[Sender],
        limiter: SendRateLimiter,
        *,
        shared_limiter: RateLimiter | None = None,
        poll_interval: float = 1.0,
        concurrency: int = 4,
        max_attempts: int = 4,
        backoff: float = 1.0,
        stop_timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.database = database
        self.senders: Mapping[str, Sender] = {sender.channel: sender for sender in senders}
        self.limiter = limiter
        # Several workers: the deployment's one rate, shared with the broadcasts of every worker.
        self.shared_limiter = shared_limiter
        self.poll_interval = poll_interval
        self.concurrency = max(1, concurrency)
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.clock = clock
        self.recovered = 0
        self.totals: dict[str, int] = {SENT: 0, FAILED: 0, UNKNOWN: 0}
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: dict[int, str] = {}  # claimed rows whose outcome is not committed yet
        self._chats: dict[int, str] = {}  # claimed row → "channel:chat"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Turn rows left in flight by a previous run into ``unknown``, then start sending."""
        async with self.database.transaction() as connection:
            self.recovered = await OutboxRepository(connection).recover_in_flight()
        if self.recovered:
            log.warning(
                "%d outbox message(s) were being sent when the bot stopped: marked unknown, not resent",
                self.recovered,
            )
        self._runner = asyncio.create_task(self._run(), name="outbox-sender")

    def wake(self) -> None:
        """Look for messages now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming, let the sends under way finish (``stop_timeout`` at most), put the rest back."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=self.stop_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        waiting = [row_id for row_id, state in self._state.items() if state in (WAITING, RETRYING)]
        if waiting:
            try:
                async with self.database.transaction() as connection:
                    await OutboxRepository(connection).record(
                        [OutboxOutcome(row_id, PENDING) for row_id in waiting], self.clock()
                    )
            except Exception as error:  # they become unknown at the next start: visible, not lost
                log.error("could not put %d unsent outbox message(s) back: %s", len(waiting), type(error).__name__)

    # ------------------------------------------------------------------ claiming

    async def _run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await self._pause(None, slots=True)
                continue
            try:
                claimed = await self._claim(free)
            except Exception as error:  # the database is away: try again later
                log.warning("could not claim outbox messages: %s", type(error).__name__)
                claimed = []
            for message in claimed:
                self._spawn(message)
            if len(claimed) < free and not self._stopping:
                await self._pause(self.poll_interval)

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        # A read first: when nothing waits (nearly always) no write transaction is opened.
        async with self.database.reading() as connection:
            if not await OutboxRepository(connection).has_pending(self.senders):
                return []
        async with self.database.transaction() as connection:
            return await OutboxRepository(connection).claim(
                self.senders, limit, self.clock(), busy=set(self._chats.values())
            )

    async def _pause(self, seconds: float | None, *, slots: bool = False) -> None:
        """Wait for ``seconds``, a :meth:`wake` or stop, or (with ``slots``) a finished send."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {waiter, *(self._tasks if slots else ())}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if not self._stopping:
            self._wake.clear()

    def _spawn(self, message: OutboxMessage) -> None:
        self._state[message.id] = WAITING
        self._chats[message.id] = f"{message.channel}:{message.chat_key}"
        task = asyncio.create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ sending

    async def _deliver(self, message: OutboxMessage) -> None:
        # Cancelled (stop timed out) before its outcome is recorded, the row keeps its state here,
        # so that :meth:`stop` can put it back if it never left.
        outcome = await self._attempt(message)
        metrics.observe_send("outbox", message.channel, outcome.status, outcome.error)
        await self._record(outcome)
        self.totals[outcome.status] = self.totals.get(outcome.status, 0) + 1
        self._state.pop(message.id, None)
        self._chats.pop(message.id, None)
        self._wake.set()  # a free slot, and perhaps the next message to the same chat

    async def _attempt(self, row: OutboxMessage) -> OutboxOutcome:
        sender = self.senders.get(row.channel)
        if sender is None:
            return OutboxOutcome(row.id, FAILED, "no such channel")
        try:
            message: Outbound = decode(row.body)
        except ValueError as error:
            log.error("outbox message %d cannot be read: %s", row.id, error)
            return OutboxOutcome(row.id, FAILED, "the message cannot be read")
        last: NotSent | None = None
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(f"{row.channel}:{row.chat_key}")
            if self.shared_limiter is not None:
                await self.shared_limiter.acquire(f"{row.channel}:{row.chat_key}")
            self._state[row.id] = CALLING
            try:
                key = await sender.send(row.chat_key, message, cache_key=f"outbox:{row.id}")
            except RecipientBlocked:
                return OutboxOutcome(row.id, FAILED, BLOCKED, blocked_contact_id=row.contact_id)
            except Rejected as error:
                return OutboxOutcome(row.id, FAILED, f"refused: {error}")
            except MaybeSent as error:
                return OutboxOutcome(row.id, UNKNOWN, f"no answer: {error}")
            except NotSent as error:
                last = error
            except Exception as error:  # a bug in a sender: the message may have left
                log.exception("outbox message %d: unexpected error while sending", row.id)
                return OutboxOutcome(row.id, UNKNOWN, f"unexpected {type(error).__name__}")
            else:
                return OutboxOutcome(row.id, SENT, message_key=key)
            self._state[row.id] = RETRYING
            if attempt < self.max_attempts and not self._stopping:
                delay = last.retry_after if last.retry_after is not None else self.backoff * 2 ** (attempt - 1)
                log.info("outbox message %d: not sent (%s), trying again in %.1f s", row.id, last, delay)
                await asyncio.sleep(delay)
                self._state[row.id] = WAITING
            elif self._stopping:
                return OutboxOutcome(row.id, PENDING, f"not sent yet: {last}")
        return OutboxOutcome(row.id, FAILED, f"not sent after {self.max_attempts} attempts: {last}")

    async def _record(self, outcome: OutboxOutcome) -> None:
        for attempt in range(RECORD_RETRIES + 1):
            try:
                async with self.database.transaction() as connection:
                    await OutboxRepository(connection).record([outcome], self.clock())
                return
            except Exception as error:
                if attempt == RECORD_RETRIES or self._stopping:
                    # The row stays 'sending' and becomes 'unknown' at the next start.
                    log.error("could not record outbox message %d: %s", outcome.message_id, type(error).__name__)
                    return
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
