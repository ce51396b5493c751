"""Where the durable sender's rows come from: the :class:`RowSource` interface.

Each table of messages sent outside a conversation is a source: broadcast deliveries
(:class:`bot.sending.broadcast_rows.BroadcastRows`) and the one-person outbox
(:class:`bot.sending.outbox_rows.OutboxRows`). A source claims rows (committing them
``sending``), says what message each carries, and records what became of them; the sending
itself is :class:`bot.sending.sender.DurableSender`'s, the same for every source.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import BarazaError
from handlers.messages import Outbound
from storage.database import Database
from storage.deliveries import Outcome

#: Whether the worker of that name is known to be gone (its rows in ``sending`` are then lost).
Gone = Callable[[str], Awaitable[bool]]


class Unsendable(BarazaError):
    """A claimed row carries no message that can be sent (its text cannot be read): it fails."""


@dataclass(frozen=True)
class Wanted:
    """What the sender asks a source for: up to ``limit`` rows due at ``now`` on ``channels``.

    ``busy`` holds the ``channel:chat`` keys being sent to now, for a source that keeps one
    message per chat in flight; ``worker`` names the worker claiming (``claimed_by``).
    """

    channels: frozenset[str]
    limit: int
    now: datetime
    busy: frozenset[str] = frozenset()
    worker: str | None = None


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


class RowSource(Protocol[RowT]):
    """A table of rows to send durably: how to claim them, what each carries, how to record it."""

    #: What the rows are, in log lines, metrics and task names ("broadcast", "outbox").
    @property
    def kind(self) -> str: ...

    #: The warning when rows were found in flight at start (``%d``: how many).
    @property
    def recovered_warning(self) -> str: ...

    #: A row waiting to be tried again when the sender stops goes back to ``pending`` at once,
    #: rather than waiting out its retry until the stop times out.
    @property
    def give_back_on_stop(self) -> bool: ...

    async def recover_in_flight(self, database: Database, gone: Gone | None = None) -> int:
        """Turn the rows left ``sending`` by workers that are ``gone`` (None: every row) into
        ``unknown`` (committed); returns how many."""
        ...

    async def claim(self, database: Database, wanted: Wanted) -> tuple[Sequence[RowT], datetime | None]:
        """Commit the rows ``wanted`` ``sending`` and return them, with when more falls due (if known)."""
        ...

    def message(self, row: RowT) -> Outbound:
        """What ``row`` carries; :class:`Unsendable` when it cannot be read."""
        ...

    def cache_key(self, row: RowT) -> str:
        """The same for rows carrying the same message (see :meth:`bot.sending.channel_sender.Sender.send`)."""
        ...

    def label(self, row: RowT) -> str:
        """The row in log lines (never its text)."""
        ...

    async def record(self, database: Database, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Commit the outcomes of sends."""
        ...


class DeliveryRepository(Protocol):
    """A repository of rows sent durably (:class:`storage.broadcasts.BroadcastRepository`, ...)."""

    async def recover_in_flight(self, gone: Gone | None = None) -> int: ...
    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None: ...


class RepositoryRows:
    """What a :class:`RowSource` does through its repository, each in a transaction of its own."""

    def repository(self, connection: AsyncConnection) -> DeliveryRepository:
        """The rows' repository on ``connection``."""
        raise NotImplementedError

    async def recover_in_flight(self, database: Database, gone: Gone | None = None) -> int:
        async with database.transaction() as connection:
            return await self.repository(connection).recover_in_flight(gone)

    async def record(self, database: Database, outcomes: Sequence[Outcome], now: datetime) -> None:
        # Quick: one update of rows by their keys (on SQLite without a thread hand-off per call).
        async with database.transaction(quick=True) as connection:
            await self.repository(connection).record(outcomes, now)
