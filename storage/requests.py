"""Data requests: tickets for data a user could not find, and the messages on each ticket.

A ticket's number is its row id. Its life::

    open ─► in_progress ─► answered ─► closed
      └──────────┴────────────┴──────────┘  (closed from any state; answered again after more questions)

``open`` and ``in_progress`` tickets can be answered; an ``answered`` ticket can be answered again
(a correction, a follow-up) or taken back ``in_progress``. A ``closed`` ticket is final. A move that
is not allowed raises :class:`RequestError` with a message staff can act on. ``answered_at`` is
the time of the *first* answer (what "time to answer" measures).

The user's own words are kept as given (no truncation): they are the request. Ticket rows keep
``channel``, ``language`` and ``user_group`` (from the register, only with consent) so that the
statistics survive the person; ``/delete_my_data`` deletes the person's tickets altogether
(:meth:`RequestRepository.delete_for_contact`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update

from storage.models import DataRequestMessageRow, DataRequestRow, IndicatorQueryRow
from storage.repository_base import Repository, from_row

data_requests = cast(Table, DataRequestRow.__table__)
request_messages = cast(Table, DataRequestMessageRow.__table__)
indicator_queries = cast(Table, IndicatorQueryRow.__table__)

OPEN, IN_PROGRESS, ANSWERED, CLOSED = "open", "in_progress", "answered", "closed"
STATUSES = (OPEN, IN_PROGRESS, ANSWERED, CLOSED)
#: Tickets the team still has to deal with.
ACTIVE = (OPEN, IN_PROGRESS)
#: ``source``: the user sent ``/request``, or pressed "Send as a data request" after a lookup found nothing.
REQUEST, UNMATCHED = "request", "unmatched"
USER, STAFF = "user", "staff"

_ALLOWED: Mapping[str, frozenset[str]] = {
    OPEN: frozenset({IN_PROGRESS, ANSWERED, CLOSED}),
    IN_PROGRESS: frozenset({OPEN, ANSWERED, CLOSED}),
    ANSWERED: frozenset({IN_PROGRESS, ANSWERED, CLOSED}),
    CLOSED: frozenset(),
}


class RequestError(Exception):
    """A ticket operation that cannot be done (no such ticket, a closed ticket answered...)."""


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything Baraza stores is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def normalised(text: str) -> str:
    """The form used to group requests: case, accents, punctuation and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(character for character in decomposed if not unicodedata.combining(character))
    return " ".join(re.sub(r"[^\w]+", " ", letters).split())


@dataclass(frozen=True)
class DataRequest:
    """One ticket; ``id`` is the number users and staff see."""

    id: int
    contact_id: int | None
    channel: str
    language: str
    user_group: str | None
    source: str
    text: str
    status: str
    assigned_to: str | None
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class RequestMessage:
    """One message on a ticket: the user's words or a staff answer."""

    author: str
    staff: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class RequestThread:
    request: DataRequest
    messages: tuple[RequestMessage, ...]

    @property
    def answers(self) -> tuple[RequestMessage, ...]:
        return tuple(message for message in self.messages if message.author == STAFF)


@dataclass(frozen=True)
class DemandItem:
    """Data people asked for and did not find: lookups that matched nothing and tickets, grouped by text."""

    text: str  # the most frequent wording of the group
    lookups: int
    tickets: int

    @property
    def total(self) -> int:
        return self.lookups + self.tickets


@dataclass(frozen=True)
class RequestStats:
    by_status: Mapping[str, int]
    by_user_group: Mapping[str | None, int]
    #: Seconds from a ticket's creation to its first answer, for every answered ticket.
    answer_seconds: tuple[float, ...]
    demand: tuple[DemandItem, ...]


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.5 is the median of an odd count); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def _request(row: Any) -> DataRequest:
    return from_row(
        DataRequest,
        row,
        created_at=_utc(row.created_at) or row.created_at,
        updated_at=_utc(row.updated_at) or row.updated_at,
        answered_at=_utc(row.answered_at),
        closed_at=_utc(row.closed_at),
    )


class RequestRepository(Repository):
    """Tickets and their messages. Runs in the caller's transaction, like every repository."""

    # ------------------------------------------------------------------ the user's side

    async def create(
        self,
        *,
        contact_id: int | None,
        channel: str,
        language: str,
        user_group: str | None,
        source: str,
        text: str,
        now: datetime,
    ) -> DataRequest:
        """Store a new ``open`` ticket with the user's text as its first message."""
        if source not in (REQUEST, UNMATCHED):
            raise RequestError(f"unknown request source {source!r}")
        if not text.strip():
            raise RequestError("a data request needs a text")
        now = _stored(now)
        result = await self.connection.execute(
            data_requests.insert()
            .values(
                contact_id=contact_id,
                channel=channel[:20],
                language=language[:20],
                user_group=None if user_group is None else user_group[:40],
                source=source,
                text=text,
                status=OPEN,
                assigned_to=None,
                created_at=now,
                updated_at=now,
                answered_at=None,
                closed_at=None,
            )
            .returning(data_requests.c.id)
        )
        number = int(result.scalar_one())
        await self._add_message(number, USER, None, text, now)
        found = await self.get(number)
        assert found is not None
        return found

    async def for_contact(self, contact_id: int, limit: int = 10) -> list[DataRequest]:
        """A person's tickets, newest first."""
        return await self.find(contact_id=contact_id, limit=limit)

    async def delete_for_contact(self, contact_id: int) -> int:
        """Delete a person's tickets and their messages (``/delete_my_data``); returns the tickets deleted."""
        result = await self.connection.execute(delete(data_requests).where(data_requests.c.contact_id == contact_id))
        # ON DELETE CASCADE removes the messages; this is for databases that do not enforce it.
        await self.connection.execute(
            delete(request_messages).where(request_messages.c.request_id.not_in(select(data_requests.c.id)))
        )
        return int(result.rowcount)

    # ------------------------------------------------------------------ reading

    async def get(self, number: int) -> DataRequest | None:
        row = (await self.connection.execute(select(data_requests).where(data_requests.c.id == number))).one_or_none()
        return None if row is None else _request(row)

    async def require(self, number: int) -> DataRequest:
        """The ticket, or :class:`RequestError` if there is none with that number."""
        found = await self.get(number)
        if found is None:
            raise RequestError(f"there is no data request #{number}")
        return found

    async def thread(self, number: int) -> RequestThread:
        """The ticket with all its messages, oldest first."""
        request = await self.require(number)
        rows = await self.connection.execute(
            select(request_messages)
            .where(request_messages.c.request_id == number)
            .order_by(request_messages.c.created_at, request_messages.c.id)
        )
        messages = tuple(
            RequestMessage(row.author, row.staff, row.text, _utc(row.created_at) or row.created_at) for row in rows
        )
        return RequestThread(request, messages)

    async def find(
        self,
        *,
        statuses: Sequence[str] | None = None,
        sources: Sequence[str] | None = None,
        contact_id: int | None = None,
        limit: int = 50,
        user_group: str | None = None,
    ) -> list[DataRequest]:
        """Tickets newest first, optionally only those in ``statuses``, from ``sources``, of one contact
        or of one ``user_group``."""
        query = select(data_requests).order_by(data_requests.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(data_requests.c.status.in_(list(statuses)))
        if sources:
            query = query.where(data_requests.c.source.in_(list(sources)))
        if contact_id is not None:
            query = query.where(data_requests.c.contact_id == contact_id)
        if user_group is not None:
            query = query.where(data_requests.c.user_group == user_group)
        return [_request(row) for row in await self.connection.execute(query)]

    # ------------------------------------------------------------------ staff actions

    async def mark_in_progress(self, number: int, now: datetime, *, staff: str | None = None) -> DataRequest:
        """``open``/``answered`` → ``in_progress``, assigned to ``staff`` when given."""
        request = await self._move(number, IN_PROGRESS, now)
        if staff:
            return await self.assign(number, staff, now)
        return request

    async def assign(self, number: int, staff: str, now: datetime) -> DataRequest:
        """Give the ticket to a member of staff (any state but ``closed``; the status is unchanged)."""
        request = await self.require(number)
        if request.status == CLOSED:
            raise RequestError(f"data request #{number} is closed")
        await self.connection.execute(
            update(data_requests)
            .where(data_requests.c.id == number)
            .values(assigned_to=staff[:100], updated_at=_stored(now))
        )
        return await self.require(number)

    async def answer(self, number: int, text: str, staff: str, now: datetime) -> DataRequest:
        """Add a staff answer: the ticket becomes ``answered`` (the first answer sets ``answered_at``)."""
        if not text.strip():
            raise RequestError("the answer is empty")
        request = await self._move(number, ANSWERED, now)
        await self._add_message(number, STAFF, staff, text, now)
        values: dict[str, Any] = {}
        if request.answered_at is None:
            values["answered_at"] = _stored(now)
        if request.assigned_to is None:
            values["assigned_to"] = staff[:100]
        if values:
            await self.connection.execute(update(data_requests).where(data_requests.c.id == number).values(values))
        return await self.require(number)

    async def close(self, number: int, now: datetime) -> DataRequest:
        return await self._move(number, CLOSED, now)

    async def _move(self, number: int, status: str, now: datetime) -> DataRequest:
        request = await self.require(number)
        if status not in _ALLOWED[request.status]:
            raise RequestError(
                f"data request #{number} is {request.status.replace('_', ' ')}; it cannot be {_verb(status)}"
            )
        values: dict[str, Any] = {"status": status, "updated_at": _stored(now)}
        if status == CLOSED:
            values["closed_at"] = _stored(now)
        # The status is checked again in the UPDATE, so two staff acting at once cannot both win.
        result = await self.connection.execute(
            update(data_requests)
            .where(data_requests.c.id == number, data_requests.c.status == request.status)
            .values(values)
        )
        if not result.rowcount:
            raise RequestError(f"data request #{number} changed meanwhile; look at it again")
        return await self.require(number)

    async def _add_message(self, number: int, author: str, staff: str | None, text: str, now: datetime) -> None:
        await self.connection.execute(
            request_messages.insert().values(
                request_id=number,
                author=author,
                staff=None if staff is None else staff[:100],
                text=text,
                created_at=_stored(now),
            )
        )

    # ------------------------------------------------------------------ statistics

    async def stats(self, *, since: datetime | None = None, top: int = 15) -> RequestStats:
        """Tickets by status and user group, times to answer, and the most requested missing data.

        The demand list groups lookups that matched nothing (``indicator_queries`` with
        ``matched = 0``) and ticket texts by :func:`normalised` text.
        """
        created = data_requests.c.created_at >= _stored(since) if since is not None else None

        def scoped(query: Any) -> Any:
            return query if created is None else query.where(created)

        by_status = dict.fromkeys(STATUSES, 0)
        rows = await self.connection.execute(
            scoped(select(data_requests.c.status, func.count()).group_by(data_requests.c.status))
        )
        by_status.update({str(status): int(count) for status, count in rows})
        rows = await self.connection.execute(
            scoped(select(data_requests.c.user_group, func.count()).group_by(data_requests.c.user_group))
        )
        by_group = {group: int(count) for group, count in rows}
        rows = await self.connection.execute(
            scoped(
                select(data_requests.c.created_at, data_requests.c.answered_at).where(
                    data_requests.c.answered_at.is_not(None)
                )
            )
        )
        seconds = tuple(
            ((_utc(answered) or answered) - (_utc(created_at) or created_at)).total_seconds()
            for created_at, answered in rows
        )
        return RequestStats(by_status, by_group, seconds, await self._demand(since, top))

    async def _demand(self, since: datetime | None, top: int) -> tuple[DemandItem, ...]:
        lookups: Counter[str] = Counter()
        tickets: Counter[str] = Counter()
        wordings: dict[str, Counter[str]] = {}
        query = select(indicator_queries.c.text).where(indicator_queries.c.matched == 0)
        if since is not None:
            query = query.where(indicator_queries.c.asked_at >= _stored(since))
        for source, counter in ((query, lookups), (self._ticket_texts(since), tickets)):
            result = await self.connection.stream(source)
            async for (text,) in result:
                key = normalised(text)
                if key:
                    counter[key] += 1
                    wordings.setdefault(key, Counter())[" ".join(text.split())] += 1
        ranked = sorted(set(lookups) | set(tickets), key=lambda key: (-(lookups[key] + tickets[key]), key))[:top]
        return tuple(DemandItem(wordings[key].most_common(1)[0][0], lookups[key], tickets[key]) for key in ranked)

    @staticmethod
    def _ticket_texts(since: datetime | None) -> Any:
        query = select(data_requests.c.text)
        return query if since is None else query.where(data_requests.c.created_at >= _stored(since))


def _verb(status: str) -> str:
    return {IN_PROGRESS: "marked in progress", ANSWERED: "answered", CLOSED: "closed", OPEN: "reopened"}[status]
