"""The broadcast dispatcher: sends pending deliveries at the configured rate, durably.

It runs inside ``baraza run`` (so a broadcast survives the command that created it) and is
channel-agnostic: a :class:`Sender` per channel does the sending (Telegram's is
:class:`bot.channels.telegram.sender.TelegramSender`).

The life of a delivery row (see :mod:`storage.broadcasts`):

1. claimed in a batch: ``pending → sending`` is **committed before the send** (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL). At most ``concurrency`` rows are ``sending`` at any time: a slot is
   only freed once the row's outcome is committed.
2. sent at the shared rate (:func:`broadcast_rate_limiter`: never more than the configured
   messages in any one second, and one a second per chat). The sender's own 429 handling waits
   out ``retry_after`` and tries again; that is not a delivery attempt.
3. the outcome is committed (grouped with the outcomes that finished meanwhile):
   ``sent`` (with the platform's message id), ``failed`` (refused for good; a blocked bot also
   sets the contact's ``blocked_at``), or ``unknown`` (the request left but no answer came back).
   Errors that certainly did not deliver (no connection, a 5xx) are retried with backoff, a few
   times, then ``failed``.

On start every row still ``sending`` (in flight when the previous process died) becomes
``unknown``: the platform has no idempotency key, so it is neither resent nor counted as
delivered unless staff ask (``baraza broadcast resend-unknown``). Nothing is sent twice and
nothing is lost silently. On a clean stop the sends under way are finished and recorded, and the
rows that were claimed but not yet sent go back to ``pending``.

The outbox sender (:mod:`bot.sending.outbox`) lives the same life; what the two share is
:class:`SendLoop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Generic, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from bot import metrics
from bot.config import BroadcastSettings
from bot.sending.notices import Notice
from bot.sending.rate import RateLimiter, SendRateLimiter, TokenBucket
from handlers.messages import Outbound
from storage.broadcasts import BLOCKED, FAILED, PENDING, SENT, UNKNOWN, BroadcastRepository, ClaimedDelivery, Outcome
from storage.database import Database

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- senders


class SendError(Exception):
    """A send did not succeed; the subclass says what is known about the message."""


class RecipientBlocked(SendError):
    """The person blocked the bot (or deleted their account): never send to them again."""


class Rejected(SendError):
    """The platform refused this message for good (chat not found, bad request...)."""


class NotSent(SendError):
    """The message certainly did not leave (no connection, a server error): safe to try again."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class MaybeSent(SendError):
    """The request left but no answer came back: the person may or may not have the message."""


class Sender(Protocol):
    """Sends one message on one channel; implemented per channel."""

    @property
    def channel(self) -> str: ...

    async def send(self, chat_key: str, message: Outbound, *, cache_key: str) -> str:
        """Send ``message`` to the chat; returns the platform's message id.

        ``cache_key`` is the same for every message of a broadcast (a sender may reuse an
        uploaded file). Raises a :class:`SendError` subclass when it does not succeed.
        """
        ...


class PacedBucket(TokenBucket):
    """A token bucket that can also tell how many tokens it holds, without taking any."""

    def available(self) -> float:
        self._refill()
        return self._tokens


def broadcast_rate_limiter(per_second: float, chat_per_second: float) -> SendRateLimiter:
    """The limiter all sends of the dispatcher share.

    Its overall bucket holds a burst of ``max(1, rate/50)`` and refills at 99 % of the rest,
    so no window of one second ever holds more than ``per_second`` sends (with 1 % to spare for
    network jitter); a token bucket as large as the rate would allow twice the rate in the
    first second. Each chat gets at most ``chat_per_second``.
    """
    limiter = SendRateLimiter(per_second, chat_per_second, chat_burst=1, max_chats=4096)
    burst = max(1.0, float(int(per_second / 50)))
    refill = (per_second - burst) * 0.99 if per_second - burst >= per_second / 2 else per_second * 0.99
    limiter.overall = PacedBucket(refill, burst)
    return limiter


# --------------------------------------------------------------------------- the send loop

# A claimed row waits for the rate limiter, is being sent, waits to be retried, or is done.
WAITING, CALLING, RETRYING, FINISHED = "waiting", "calling", "retrying", "finished"


class ClaimedRow(Protocol):
    """A row committed ``sending`` and now to be sent (a broadcast delivery, an outbox message)."""

    @property
    def id(self) -> int: ...
    @property
    def contact_id(self) -> int | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def chat_key(self) -> str: ...


RowT = TypeVar("RowT", bound=ClaimedRow)
OutcomeT = TypeVar("OutcomeT")
OutcomeT_contra = TypeVar("OutcomeT_contra", contravariant=True)


class OutcomeStore(Protocol[OutcomeT_contra]):
    """The repository of the rows: :class:`BroadcastRepository`, :class:`storage.outbox.OutboxRepository`."""

    async def recover_in_flight(self) -> int: ...
    async def record(self, outcomes: Sequence[OutcomeT_contra], now: datetime) -> None: ...


class SendLoop(Generic[RowT, OutcomeT]):
    """The durable sending that the broadcast dispatcher and the outbox sender share.

    Rows are claimed (``sending`` committed before the send) by the subclass's ``_run``; each
    is sent in a task of its own through its channel's :class:`Sender` at ``limiter``'s rate
    (and ``shared_limiter``'s, with several workers); what certainly did not leave is tried
    again, ``max_attempts`` times at most, with doubling waits from ``backoff`` seconds. On
    start the rows a previous run left in flight become ``unknown``; on :meth:`stop` the sends
    under way finish (``stop_timeout`` at most) and the claimed rows that never left go back to
    ``pending``. The subclass claims rows, says what message a row carries and records
    outcomes; ``store`` opens the rows' repository on a connection, ``outcome`` builds an
    outcome from (row id, status, error, message key, blocked contact id).
    """

    #: What the rows are, in log lines and metrics.
    kind: ClassVar[str]
    #: The warning when rows were found in flight at start (``%d``: how many).
    recovered_warning: ClassVar[str]
    #: The name of the claiming task.
    task_name: ClassVar[str]
    #: A row waiting to be tried again when the loop stops goes back to ``pending`` at once,
    #: rather than waiting out its retry until the stop times out.
    give_back_on_stop: ClassVar[bool] = False
    logger: ClassVar[logging.Logger] = log

    def __init__(
        self,
        database: Database,
        senders: Iterable[Sender],
        limiter: SendRateLimiter,
        *,
        store: Callable[[AsyncConnection], OutcomeStore[OutcomeT]],
        outcome: Callable[[int, str, str | None, str | None, int | None], OutcomeT],
        concurrency: int,
        shared_limiter: RateLimiter | None,
        poll_interval: float,
        max_attempts: int,
        backoff: float,
        stop_timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.senders: Mapping[str, Sender] = {sender.channel: sender for sender in senders}
        self.limiter = limiter
        self._store = store
        self._make_outcome = outcome
        self.concurrency = max(1, concurrency)
        self.shared_limiter = shared_limiter
        self.poll_interval = poll_interval
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.clock = clock
        self.recovered = 0
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._state: dict[int, str] = {}  # claimed rows whose outcome is not committed yet

    def _outcome(
        self,
        row_id: int,
        status: str,
        error: str | None = None,
        *,
        message_key: str | None = None,
        blocked_contact_id: int | None = None,
    ) -> OutcomeT:
        return self._make_outcome(row_id, status, error, message_key, blocked_contact_id)

    # What the subclass provides.

    async def _run(self) -> None:
        """Claim rows and :meth:`_spawn` each, until :meth:`stop`."""
        raise NotImplementedError

    async def _deliver(self, row: RowT) -> None:
        """Send ``row`` and record its outcome."""
        raise NotImplementedError

    async def _drain(self) -> None:
        """At stop, after the sends under way: let the outcomes they left be recorded."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Turn rows left in flight by a previous run into ``unknown``, then start sending."""
        async with self.database.transaction() as connection:
            self.recovered = await self._store(connection).recover_in_flight()
        if self.recovered:
            self.logger.warning(self.recovered_warning, self.recovered)
        self._runner = asyncio.create_task(self._run(), name=self.task_name)

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
        await self._drain()
        # Claimed rows that never left (waiting for the rate limiter or a retry) are sent later.
        waiting = [row_id for row_id, state in self._state.items() if state in (WAITING, RETRYING)]
        if waiting:
            try:
                async with self.database.transaction() as connection:
                    await self._store(connection).record(
                        [self._outcome(row_id, PENDING) for row_id in waiting], self.clock()
                    )
            except Exception as error:  # they become unknown at the next start: visible, not lost
                self.logger.error(
                    "could not put %d unsent %s message(s) back: %s", len(waiting), self.kind, type(error).__name__
                )

    # ------------------------------------------------------------------ claiming

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
        task = asyncio.create_task(self._deliver(row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ sending

    async def _send(self, row: RowT, sender: Sender, message: Outbound, *, cache_key: str, label: str) -> OutcomeT:
        """Send ``message`` for ``row``, trying again what did not leave; ``label`` names it in logs."""
        chat = f"{row.channel}:{row.chat_key}"
        last: NotSent | None = None
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(chat)
            if self.shared_limiter is not None:  # the rate of all workers together
                await self.shared_limiter.acquire(chat)
            self._state[row.id] = CALLING
            try:
                key = await sender.send(row.chat_key, message, cache_key=cache_key)
            except RecipientBlocked:
                return self._outcome(row.id, FAILED, BLOCKED, blocked_contact_id=row.contact_id)
            except Rejected as error:
                return self._outcome(row.id, FAILED, f"refused: {error}")
            except MaybeSent as error:
                return self._outcome(row.id, UNKNOWN, f"no answer: {error}")
            except NotSent as error:
                last = error
            except Exception as error:  # a bug in a sender: the message may have left
                self.logger.exception("%s: unexpected error while sending", label)
                return self._outcome(row.id, UNKNOWN, f"unexpected {type(error).__name__}")
            else:
                return self._outcome(row.id, SENT, message_key=key)
            self._state[row.id] = RETRYING
            if self._stopping and self.give_back_on_stop:
                return self._outcome(row.id, PENDING, f"not sent yet: {last}")
            if attempt < self.max_attempts:
                delay = last.retry_after if last.retry_after is not None else self.backoff * 2 ** (attempt - 1)
                self.logger.info("%s: not sent (%s), trying again in %.1f s", label, last, delay)
                await asyncio.sleep(delay)
                self._state[row.id] = WAITING
        return self._outcome(row.id, FAILED, f"not sent after {self.max_attempts} attempts: {last}")


# --------------------------------------------------------------------------- the dispatcher

RECORD_RETRIES = 30
NOTICES_CACHED = 32
PROGRESS_LOG_SECONDS = 30.0


class Dispatcher(SendLoop[ClaimedDelivery, Outcome]):
    """Claims pending deliveries of due broadcasts and sends them through ``senders``."""

    kind = "broadcast"
    task_name = "broadcast-dispatcher"
    recovered_warning = (
        "%d broadcast message(s) were being sent when the bot stopped: marked unknown "
        "(see 'baraza broadcast status'; 'baraza broadcast resend-unknown ID' sends them again)"
    )

    def __init__(
        self,
        database: Database,
        senders: Iterable[Sender],
        settings: BroadcastSettings | None = None,
        *,
        poll_interval: float = 1.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        stop_timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        shared_limiter: RateLimiter | None = None,
    ) -> None:
        """``shared_limiter`` (several workers) paces the sends of every dispatcher together."""
        settings = settings or BroadcastSettings()
        super().__init__(
            database,
            senders,
            broadcast_rate_limiter(settings.messages_per_second, settings.chat_messages_per_second),
            store=BroadcastRepository,
            outcome=Outcome,
            concurrency=settings.concurrency,
            shared_limiter=shared_limiter,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            backoff=backoff,
            stop_timeout=stop_timeout,
            clock=clock,
        )
        self._bucket = cast(PacedBucket, self.limiter.overall)
        self.totals: dict[str, int] = {SENT: 0, FAILED: 0, BLOCKED: 0, UNKNOWN: 0, PENDING: 0}
        self._results: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._notices: OrderedDict[int, Notice | None] = OrderedDict()
        self._messages: dict[tuple[int, str], Outbound] = {}
        self._logged_at = time.monotonic()
        self._logged_totals = dict(self.totals)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Turn rows left in flight by a previous run into ``unknown``, then start sending."""
        await super().start()
        log.info(
            "broadcast dispatcher started: %s, %d in flight at most",
            ", ".join(self.senders) or "no channel",
            self.concurrency,
        )

    async def stop(self) -> None:
        """Stop claiming, let the sends under way finish (``stop_timeout`` at most), record everything."""
        await super().stop()
        self._log_progress(force=True)

    async def _drain(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._flusher, self.stop_timeout)

    # ------------------------------------------------------------------ claiming

    async def _run(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._tasks)
            if free <= 0:
                await self._pause(None, slots=True)  # as soon as a slot frees
                continue
            wanted = await self._ready(free)
            if wanted <= 0:
                continue
            try:
                claimed, next_due = await self._claim(wanted)
            except Exception as error:  # the database is away: try again later
                log.warning("could not claim broadcast messages: %s: %s", type(error).__name__, error)
                await self._pause(self.poll_interval)
                continue
            for delivery in claimed:
                self._spawn(delivery)
            self._log_progress()
            if len(claimed) < wanted and not self._stopping:  # nothing more is due now
                timeout = self.poll_interval
                if next_due is not None:
                    timeout = min(timeout, max(0.0, (next_due - self.clock()).total_seconds()))
                await self._pause(timeout)

    async def _ready(self, free: int) -> int:
        """How many rows to claim now: as many as the rate lets leave at once (0 when stopping).

        Claiming only what can be sent at once keeps the rows in ``sending`` to those really on
        their way, so that a crash leaves as few ``unknown`` rows as possible.
        """
        while not self._stopping:
            waiting = sum(1 for state in self._state.values() if state == WAITING)
            tokens = self._bucket.available()
            # One row ahead of the tokens, so that the limiter never idles while a claim commits.
            ready = min(free, int(tokens) + 1 - waiting)
            if ready >= 1:
                return ready
            await self._pause(max(0.001, (waiting - tokens) / self._bucket.rate))
        return 0

    async def _claim(self, limit: int) -> tuple[list[ClaimedDelivery], datetime | None]:
        async with self.database.transaction() as connection:
            repository = BroadcastRepository(connection)
            claim = await repository.claim(self.senders, limit, self.clock())
            for broadcast_id in {d.broadcast_id for d in claim.deliveries} - set(self._notices):
                record = await repository.notice(broadcast_id)
                try:
                    notice = Notice.from_json(record.notice, title=record.title) if record is not None else None
                except (ValueError, KeyError, TypeError):
                    notice = None
                    log.error("broadcast %d: its notice cannot be read; its messages fail", broadcast_id)
                self._notices[broadcast_id] = notice
                while len(self._notices) > NOTICES_CACHED:
                    evicted, _ = self._notices.popitem(last=False)
                    self._messages = {key: value for key, value in self._messages.items() if key[0] != evicted}
        for delivery in claim.deliveries:
            self._notices.move_to_end(delivery.broadcast_id)
        return claim.deliveries, claim.next_due

    # ------------------------------------------------------------------ sending

    def _message(self, delivery: ClaimedDelivery) -> Outbound | None:
        key = (delivery.broadcast_id, delivery.language)
        message = self._messages.get(key)
        if message is None:
            notice = self._notices.get(delivery.broadcast_id)
            if notice is None:
                return None
            message = self._messages[key] = notice.outbound(delivery.language)
        return message

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        outcome = await self._attempt(delivery)
        metrics.observe_send("broadcast", delivery.channel, outcome.status, outcome.error)
        self._state[delivery.id] = FINISHED
        await self._record(outcome)
        self._wake.set()  # a free slot, or perhaps the last message of a broadcast

    async def _attempt(self, delivery: ClaimedDelivery) -> Outcome:
        message = self._message(delivery)
        sender = self.senders.get(delivery.channel)
        if message is None or sender is None:
            return Outcome(delivery.id, FAILED, "the notice cannot be read" if message is None else "no such channel")
        return await self._send(
            delivery, sender, message, cache_key=str(delivery.broadcast_id), label=f"broadcast {delivery.broadcast_id}"
        )

    # ------------------------------------------------------------------ recording

    async def _record(self, outcome: Outcome) -> None:
        """Queue the outcome and wait until it is committed (outcomes that finish together share one commit)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((outcome, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._results:
            batch, self._results = self._results, []
            outcomes = [outcome for outcome, _ in batch]
            for attempt in range(RECORD_RETRIES + 1):
                try:
                    async with self.database.transaction() as connection:
                        await BroadcastRepository(connection).record(outcomes, self.clock())
                    break
                except Exception as error:
                    if attempt == RECORD_RETRIES or self._stopping:
                        # The rows stay 'sending' and become 'unknown' at the next start.
                        log.error("could not record %d broadcast outcome(s): %s", len(outcomes), type(error).__name__)
                        break
                    log.warning("could not record broadcast outcomes (%s); retrying", type(error).__name__)
                    await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
            for outcome, future in batch:
                self._state.pop(outcome.delivery_id, None)
                kind = BLOCKED if outcome.blocked_contact_id is not None else outcome.status
                self.totals[kind] = self.totals.get(kind, 0) + 1
                if not future.done():
                    future.set_result(None)

    def _log_progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._logged_at < PROGRESS_LOG_SECONDS:
            return
        changed = {k: v - self._logged_totals.get(k, 0) for k, v in self.totals.items()}
        if any(changed.values()):
            log.info(
                "broadcasts in the last %.0f s: %s",
                now - self._logged_at,
                ", ".join(f"{count} {kind}" for kind, count in changed.items() if count),
            )
        self._logged_at, self._logged_totals = now, dict(self.totals)
