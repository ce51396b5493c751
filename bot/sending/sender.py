"""The durable sender: claims rows, sends them at the shared rate, records what became of each.

One sender serves every table of messages sent outside a conversation, each behind a
:class:`bot.sending.row_source.RowSource`: broadcast deliveries (:class:`bot.sending.broadcast_rows.BroadcastRows`) and
the one-person outbox (:class:`bot.sending.outbox_rows.OutboxRows`). It runs inside
``baraza run`` (so a message survives the command that queued it) and is channel-agnostic: a
:class:`bot.sending.channel_sender.Sender` per channel does the sending (Telegram's is
:class:`bot.channels.telegram.adapter.TelegramSender`).

The life of a row (the statements are :mod:`storage.deliveries`):

1. claimed in a batch: ``pending → sending`` is **committed before the send** (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL). At most ``concurrency`` rows are ``sending`` at any time: a slot is
   only freed once the row's outcome is committed, and only as many rows are claimed as the rate
   lets leave at once, so that a crash leaves as few ``unknown`` rows as possible.
2. sent at the shared rate (:mod:`bot.sending.rate`). A channel's own 429 handling waits out
   ``retry_after`` and tries again; a ``NotSent`` with ``retry_after`` is waited out here by
   every send on that channel, not only the one that was told, before the next attempt. Errors
   that certainly did not deliver (no connection, a 5xx) are retried with backoff,
   ``max_attempts`` times at most, then ``failed``.
3. the outcome is committed (grouped with the outcomes that finished meanwhile): ``sent`` (with
   the platform's message id), ``failed`` (refused for good; a blocked bot also sets the
   contact's ``blocked_at``), or ``unknown`` (the request left but no answer came back).

On start every row still ``sending`` that this worker's previous process (or a worker known to be
gone, see :mod:`storage.workers`) left in flight becomes ``unknown``; other live workers' rows are
left to them: the platforms have no idempotency key, so it is neither resent nor counted as
delivered unless staff ask (``baraza broadcast resend-unknown``). Nothing is sent twice and
nothing is lost silently. On a clean stop the sends under way are finished and recorded, and the
rows that were claimed but never left go back to ``pending``. Message texts are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Generic, TypedDict

from bot import metrics
from bot.sending.channel_sender import MaybeSent, NotSent, RecipientBlocked, Rejected, Sender
from bot.sending.rate import LocalRateLimiter, RateLimiter
from bot.sending.row_source import Gone, RowSource, RowT, Unsendable, Wanted
from common.clock import utc_now
from handlers.messages import Outbound
from storage.database import Database
from storage.deliveries import BLOCKED, FAILED, PENDING, SENT, UNKNOWN, Outcome

log = logging.getLogger(__name__)


# A claimed row waits for the rate limiter, is being sent, waits to be retried, or is done.
WAITING, CALLING, RETRYING, FINISHED = "waiting", "calling", "retrying", "finished"

RECORD_RETRIES = 30
#: Rows are claimed for the sends due within this many seconds, in one transaction (at least one row).
CLAIM_AHEAD_SECONDS = 0.03
#: How often a sender looks for rows left ``sending`` by workers that are gone since its start.
RECOVER_SECONDS = 30.0
PROGRESS_LOG_SECONDS = 30.0


class SenderOptions(TypedDict, total=False):
    """How a :class:`DurableSender` behaves, besides its source, senders, rate and concurrency."""

    shared_limiter: RateLimiter | None
    poll_interval: float
    max_attempts: int
    backoff: float
    stop_timeout: float
    clock: Callable[[], datetime]
    worker: str | None
    gone: Gone | None


class DurableSender(Generic[RowT]):
    """Sends the rows of ``source`` through ``senders`` at ``limiter``'s rate, durably.

    ``shared_limiter`` (several workers) is the deployment's one rate, shared by the senders of
    every worker. What certainly did not leave is tried again, ``max_attempts`` times at most,
    with doubling waits from ``backoff`` seconds (or the ``retry_after`` the channel gave). On
    :meth:`stop` the sends under way finish (``stop_timeout`` at most) and the claimed rows that
    never left go back to ``pending``.

    ``worker`` (this worker's name, :class:`storage.workers.WorkerIdentity`) is written on the
    rows it claims; with ``gone`` only the rows of workers known to be gone become ``unknown``
    at start (and every :data:`RECOVER_SECONDS`), never a live worker's. Without ``gone``
    every row left ``sending`` does (one process).
    """

    def __init__(
        self,
        database: Database,
        source: RowSource[RowT],
        senders: Iterable[Sender],
        limiter: LocalRateLimiter,
        *,
        concurrency: int,
        shared_limiter: RateLimiter | None = None,
        poll_interval: float = 1.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        stop_timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        worker: str | None = None,
        gone: Gone | None = None,
    ) -> None:
        self.database = database
        self.worker = worker
        self.gone = gone
        self.source = source
        self.senders: Mapping[str, Sender] = {sender.channel: sender for sender in senders}
        self.limiter = limiter
        self.concurrency = max(1, concurrency)
        self.shared_limiter = shared_limiter
        self.poll_interval = poll_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.clock = clock
        self.recovered = 0
        self.totals: dict[str, int] = {SENT: 0, FAILED: 0, BLOCKED: 0, UNKNOWN: 0, PENDING: 0}
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: dict[int, str] = {}  # claimed rows whose outcome is not committed yet
        self._chats: dict[int, str] = {}  # claimed row → "channel:chat"
        self._resume_at: dict[str, float] = {}  # channel → loop time before which nothing is sent on it
        self._results: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._logged_at = time.monotonic()
        self._recovered_at = time.monotonic()
        self._logged_totals = dict(self.totals)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Turn rows left in flight by a previous run into ``unknown``, then start sending."""
        self.recovered = await self.source.recover_in_flight(self.database, self.gone)
        if self.recovered:
            log.warning(self.source.recovered_warning, self.recovered)
        self._recovered_at = time.monotonic()
        self._runner = asyncio.create_task(self._run(), name=f"{self.source.kind}-sender")
        log.info(
            "%s sender started: %s, %d in flight at most",
            self.source.kind,
            ", ".join(self.senders) or "no channel",
            self.concurrency,
        )

    def wake(self) -> None:
        """Look for rows to send now instead of at the next poll."""
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
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._flusher, self.stop_timeout)
        # Claimed rows that never left (waiting for the rate limiter or a retry) are sent later.
        waiting = [row_id for row_id, state in self._state.items() if state in (WAITING, RETRYING)]
        if waiting:
            try:
                await self.source.record(self.database, [Outcome(row_id, PENDING) for row_id in waiting], self.clock())
            except Exception as error:  # they become unknown at the next start: visible, not lost
                log.error(
                    "could not put %d unsent %s message(s) back: %s",
                    len(waiting),
                    self.source.kind,
                    type(error).__name__,
                )
        self._log_progress(force=True)

    # ------------------------------------------------------------------ claiming

    async def _recover_now_and_then(self) -> None:
        """Rows of workers that died since (and never came back) become ``unknown`` too."""
        if self.gone is None or time.monotonic() - self._recovered_at < RECOVER_SECONDS:
            return
        self._recovered_at = time.monotonic()
        try:
            recovered = await self.source.recover_in_flight(self.database, self.gone)
        except Exception as error:  # the database is away: next time
            log.warning("could not look for lost %s messages: %s", self.source.kind, type(error).__name__)
            return
        if recovered:
            log.warning(self.source.recovered_warning, recovered)

    async def _run(self) -> None:
        while not self._stopping:
            await self._recover_now_and_then()
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await self._pause(None, slots=True)  # as soon as a slot frees
                continue
            wanted = await self._ready(free)
            if wanted <= 0:
                continue
            try:
                asked = Wanted(
                    frozenset(self.senders), wanted, self.clock(), frozenset(self._chats.values()), self.worker
                )
                claimed, next_due = await self.source.claim(self.database, asked)
            except Exception as error:  # the database is away: try again later
                log.warning("could not claim %s messages: %s: %s", self.source.kind, type(error).__name__, error)
                await self._pause(self.poll_interval)
                continue
            for row in claimed:
                self._spawn(row)
            self._log_progress()
            if len(claimed) < wanted and not self._stopping:  # nothing more is due now
                timeout = self.poll_interval
                if next_due is not None:
                    timeout = min(timeout, max(0.0, (next_due - self.clock()).total_seconds()))
                await self._pause(timeout)

    async def _ready(self, free: int) -> int:
        """How many rows to claim now: as many as the rate lets leave at once (0 when stopping).

        Claiming only what can be sent soon keeps the rows in ``sending`` to those really on
        their way (never more than ``concurrency``), so that a crash leaves as few ``unknown``
        rows as possible; claiming what falls due within :data:`CLAIM_AHEAD_SECONDS` together
        spares a transaction per message at high rates.
        """
        bucket = self.limiter.overall
        ahead = max(1.0, bucket.rate * CLAIM_AHEAD_SECONDS)
        # Wait for a few rows' worth rather than claiming them one by one (1 at low rates).
        batch = max(1, min(int(ahead / 2), self.concurrency // 4))
        while not self._stopping:
            waiting = sum(1 for state in self._state.values() if state == WAITING)
            tokens = bucket.available()
            # Rows ahead of the tokens, so that the limiter never idles while a claim commits.
            due = int(tokens + ahead) - waiting
            ready = min(free, due)
            if ready >= batch:
                return ready
            if due >= batch:  # waiting for slots, not for the rate
                before = free
                await self._pause(self.poll_interval, slots=True)
                free = self.concurrency - len(self._tasks)
                if free == before and free >= 1:  # slots held long (retries): do not wait for more
                    return min(free, due)
            else:
                await self._pause(max(0.001, (waiting + batch - ahead - tokens) / bucket.rate))
        return 0

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

    def _spawn(self, row: RowT) -> None:
        self._state[row.id] = WAITING
        self._chats[row.id] = f"{row.channel}:{row.chat_key}"
        task = asyncio.create_task(self._deliver(row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ sending

    async def _deliver(self, row: RowT) -> None:
        # Cancelled (stop timed out) before its outcome is recorded, the row keeps its state,
        # so that :meth:`stop` can put it back if it never left.
        outcome = await self._attempt(row)
        metrics.observe_send(self.source.kind, row.channel, outcome.status, outcome.error)
        self._state[row.id] = FINISHED
        await self._record(outcome)
        self._chats.pop(row.id, None)
        self._wake.set()  # a free slot, and perhaps the next message to the same chat

    async def _attempt(self, row: RowT) -> Outcome:
        sender = self.senders.get(row.channel)
        if sender is None:
            return Outcome(row.id, FAILED, "no such channel")
        try:
            message = self.source.message(row)
        except Unsendable as error:
            return Outcome(row.id, FAILED, str(error))
        return await self._send(row, sender, message)

    async def _send(self, row: RowT, sender: Sender, message: Outbound) -> Outcome:
        """Send ``message`` for ``row``, trying again what did not leave."""
        chat, label = f"{row.channel}:{row.chat_key}", self.source.label(row)
        last: NotSent | None = None
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(chat)
            if self.shared_limiter is not None:  # the rate of all workers together
                await self.shared_limiter.acquire(chat)
            await self._resumed(row.channel)
            self._state[row.id] = CALLING
            try:
                key = await sender.send(row.chat_key, message, cache_key=self.source.cache_key(row))
            except RecipientBlocked:
                return Outcome(row.id, FAILED, BLOCKED, blocked_contact_id=row.contact_id)
            except Rejected as error:
                return Outcome(row.id, FAILED, f"refused: {error}")
            except MaybeSent as error:
                return Outcome(row.id, UNKNOWN, f"no answer: {error}")
            except NotSent as error:
                last = error
                if error.retry_after is not None:
                    self._hold(row.channel, error.retry_after)
            except Exception as error:  # a bug in a sender: the message may have left
                log.exception("%s: unexpected error while sending", label)
                return Outcome(row.id, UNKNOWN, f"unexpected {type(error).__name__}")
            else:
                return Outcome(row.id, SENT, message_key=key)
            self._state[row.id] = RETRYING
            if self._stopping and self.source.give_back_on_stop:
                return Outcome(row.id, PENDING, f"not sent yet: {last}")
            if attempt < self.max_attempts:
                delay = last.retry_after if last.retry_after is not None else self.backoff * 2 ** (attempt - 1)
                log.info("%s: not sent (%s), trying again in %.1f s", label, last, delay)
                await asyncio.sleep(delay)
                self._state[row.id] = WAITING
        return Outcome(row.id, FAILED, f"not sent after {self.max_attempts} attempts: {last}")

    def _hold(self, channel: str, seconds: float) -> None:
        """The channel said to wait ``seconds``: no send on it leaves before then (see :meth:`_resumed`)."""
        resume_at = asyncio.get_running_loop().time() + seconds
        self._resume_at[channel] = max(resume_at, self._resume_at.get(channel, 0.0))

    async def _resumed(self, channel: str) -> None:
        """Wait out a ``retry_after`` the channel gave to any send: it applies to the bot, not one message."""
        loop = asyncio.get_running_loop()
        for _ in range(8):  # another send may extend the wait meanwhile: look again (bounded)
            wait = self._resume_at.get(channel, 0.0) - loop.time()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    # ------------------------------------------------------------------ recording

    async def _record(self, outcome: Outcome) -> None:
        """Queue the outcome and wait until it is committed (outcomes that finish together share one commit)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((outcome, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def _flush(self) -> None:
        kind = self.source.kind
        while self._results:
            batch, self._results = self._results, []
            outcomes = [outcome for outcome, _ in batch]
            for attempt in range(RECORD_RETRIES + 1):
                try:
                    await self.source.record(self.database, outcomes, self.clock())
                    break
                except Exception as error:
                    if attempt == RECORD_RETRIES or self._stopping:
                        # The rows stay 'sending' and become 'unknown' at the next start.
                        log.error("could not record %d %s outcome(s): %s", len(outcomes), kind, type(error).__name__)
                        break
                    log.warning("could not record %s outcomes (%s); retrying", kind, type(error).__name__)
                    await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
            for outcome, future in batch:
                self._state.pop(outcome.row_id, None)
                counted = BLOCKED if outcome.blocked_contact_id is not None else outcome.status
                self.totals[counted] = self.totals.get(counted, 0) + 1
                if not future.done():
                    future.set_result(None)

    def _log_progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._logged_at < PROGRESS_LOG_SECONDS:
            return
        changed = {k: v - self._logged_totals.get(k, 0) for k, v in self.totals.items()}
        if any(changed.values()):
            log.info(
                "%s messages in the last %.0f s: %s",
                self.source.kind,
                now - self._logged_at,
                ", ".join(f"{count} {what}" for what, count in changed.items() if count),
            )
        self._logged_at, self._logged_totals = now, dict(self.totals)
