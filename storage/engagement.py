"""Engagement figures from the data: the metric registry behind the office's objectives and the
quarterly engagement report.

Each metric is one function of the database over a window ``[since, until)``: a *stock* (how
many registered users at ``until``) ignores ``since``; a *flow* (the median answer time of the
data requests answered in the window) uses both. :data:`METRICS` names them; the objectives of
``config.yaml`` (:mod:`handlers.engagement`) pick one by name, with its parameters.

Working days (answer times of data requests) are counted by :func:`numpy.busday_count`: the
working days from the day a request came in to the day it was answered (a request answered on
the day it came is 0, one answered the next working day 1), Monday to Friday unless the office
gives its own week, less the office's holidays.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import Table, and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from common.clock import as_utc
from storage.deliveries import SENT, UNKNOWN
from storage.models import AnswerRow, ContactRow, DataRequestRow, DeliveryRow, ResponseRow

contacts = cast(Table, ContactRow.__table__)
data_requests = cast(Table, DataRequestRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)

#: Channels that report when a message was read (WhatsApp's status webhooks set ``read_at``).
READ_RECEIPT_CHANNELS = ("whatsapp",)
#: numpy's week: the working days, Monday first.
DEFAULT_WEEKMASK = "1111100"
COUNT, SHARE, DAYS = "count", "share", "working days"


@dataclass(frozen=True)
class WorkingDays:
    """The office's working week (numpy weekmask, Monday first) and holidays."""

    weekmask: str = DEFAULT_WEEKMASK
    holidays: tuple[date, ...] = ()

    def between(self, start: date, end: date) -> int:
        """Working days from ``start`` up to ``end`` (``end`` not counted; 0 on the same day)."""
        return self.count([start], [end])[0]

    def count(self, starts: Sequence[date], ends: Sequence[date]) -> list[int]:
        """:meth:`between` for each pair, in one call (numpy counts whole arrays at once)."""
        if not starts:
            return []
        import numpy  # when counting: every process importing storage need not load numpy

        found = numpy.busday_count(
            numpy.array(starts, dtype="datetime64[D]"),
            numpy.array(ends, dtype="datetime64[D]"),
            weekmask=self.weekmask,
            holidays=numpy.array(self.holidays, dtype="datetime64[D]"),
        )
        return [int(days) for days in found]


@dataclass(frozen=True)
class MetricParams:
    """What a metric may need besides the window: the satisfaction question and its good answers,
    the working week."""

    survey: str | None = None
    question: str | None = None
    good: tuple[str, ...] = ()
    working_days: WorkingDays = field(default_factory=WorkingDays)


Compute = Callable[[AsyncConnection, MetricParams, datetime, datetime], Awaitable[float | None]]
Window = tuple[datetime, datetime]
#: A metric over several windows at once (one query for a whole trend).
Series = Callable[[AsyncConnection, MetricParams, Sequence[Window]], Awaitable[list[float | None]]]


@dataclass(frozen=True)
class Metric:
    """One figure the office can set an objective on."""

    name: str
    label: str
    unit: str
    #: A stock is read at the end of the window; a flow over the window.
    stock: bool
    compute: Compute
    #: Parameters it needs (objective keys).
    needs: tuple[str, ...] = ()
    #: The metric over several windows in one query; None: :attr:`compute` for each.
    series: Series | None = None

    async def values(
        self, connection: AsyncConnection, params: MetricParams, windows: Sequence[Window]
    ) -> list[float | None]:
        """The metric over each of ``windows`` (``[since, until)``; a stock: at each ``until``)."""
        if self.series is not None:
            return await self.series(connection, params, windows)
        return [await self.compute(connection, params, since, until) for since, until in windows]


def _stored(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def registered_at(until: datetime) -> ColumnElement[bool]:
    """Contacts in the register at ``until``: consented before it, and not declined between."""
    at = _stored(until)
    return and_(
        contacts.c.consent_at.is_not(None),
        contacts.c.consent_at < at,
        or_(
            contacts.c.declined_at.is_(None),
            contacts.c.declined_at < contacts.c.consent_at,
            contacts.c.declined_at >= at,
        ),
    )


async def registered_at_count(connection: AsyncConnection, until: datetime) -> int:
    """How many contacts are in the register at ``until``."""
    return int(await connection.scalar(select(func.count()).select_from(contacts).where(registered_at(until))) or 0)


async def registered_users(
    connection: AsyncConnection, _params: MetricParams, _since: datetime, until: datetime
) -> float:
    return float(await registered_at_count(connection, until))


async def registered_by_group(connection: AsyncConnection, until: datetime) -> dict[str | None, int]:
    """Registered users at ``until`` by user group (None: not given)."""
    rows = await connection.execute(
        select(contacts.c.user_group, func.count()).where(registered_at(until)).group_by(contacts.c.user_group)
    )
    return {group: int(count) for group, count in rows}


async def new_registrations_by_group(
    connection: AsyncConnection, since: datetime, until: datetime
) -> dict[str | None, int]:
    """Contacts who joined the register in ``[since, until)`` (and are in it at ``until``), by user group."""
    rows = await connection.execute(
        select(contacts.c.user_group, func.count())
        .where(registered_at(until), contacts.c.consent_at >= _stored(since))
        .group_by(contacts.c.user_group)
    )
    return {group: int(count) for group, count in rows}


async def new_registrations(
    connection: AsyncConnection, _params: MetricParams, since: datetime, until: datetime
) -> float:
    return float(sum((await new_registrations_by_group(connection, since, until)).values()))


async def contacts_reached(
    connection: AsyncConnection, _params: MetricParams, since: datetime, until: datetime
) -> float:
    """Distinct contacts a broadcast message was sent to in the window (``unknown`` counts: it may have arrived)."""
    sent_at = func.coalesce(deliveries.c.sent_at, deliveries.c.claimed_at)
    found = await connection.scalar(
        select(func.count(distinct(deliveries.c.contact_id))).where(
            deliveries.c.status.in_([SENT, UNKNOWN]), sent_at >= _stored(since), sent_at < _stored(until)
        )
    )
    return float(found or 0)


async def request_answer_days(
    connection: AsyncConnection, working_days: WorkingDays, since: datetime, until: datetime
) -> list[int]:
    """Working days to the first answer of each data request answered in the window."""
    rows = await connection.execute(
        select(data_requests.c.created_at, data_requests.c.answered_at).where(
            data_requests.c.answered_at >= _stored(since), data_requests.c.answered_at < _stored(until)
        )
    )
    pairs = [(as_utc(created).date(), as_utc(answered).date()) for created, answered in rows]
    return working_days.count([start for start, _ in pairs], [end for _, end in pairs])


async def median_request_answer_working_days(
    connection: AsyncConnection, params: MetricParams, since: datetime, until: datetime
) -> float | None:
    (found,) = await median_request_answer_series(connection, params, [(since, until)])
    return found


def _span(windows: Sequence[Window]) -> Window:
    return min(since for since, _ in windows), max(until for _, until in windows)


async def median_request_answer_series(
    connection: AsyncConnection, params: MetricParams, windows: Sequence[Window]
) -> list[float | None]:
    """The median working days to answer, over each window: the requests read once for all of them."""
    since, until = _span(windows)
    rows = await connection.execute(
        select(data_requests.c.created_at, data_requests.c.answered_at).where(
            data_requests.c.answered_at >= _stored(since), data_requests.c.answered_at < _stored(until)
        )
    )
    pairs = [(as_utc(created), as_utc(answered)) for created, answered in rows]
    days = params.working_days.count([c.date() for c, _ in pairs], [a.date() for _, a in pairs])
    found: list[float | None] = []
    for start, end in windows:
        inside = [d for (_, answered), d in zip(pairs, days, strict=True) if _stored(start) <= answered < _stored(end)]
        found.append(float(statistics.median(inside)) if inside else None)
    return found


async def satisfaction_answers(
    connection: AsyncConnection, params: MetricParams, since: datetime, until: datetime
) -> tuple[int, int]:
    """(good, given): answers to the satisfaction question in responses completed in the window."""
    # From the responses completed in the window (index on survey and completion time) to their
    # one answer to the question (the unique index on response and question).
    joined = responses.join(
        answers, and_(answers.c.response_id == responses.c.id, answers.c.question == params.question)
    )
    good = func.coalesce(func.sum(case((answers.c.value.in_(list(params.good)), 1), else_=0)), 0)
    row = (
        await connection.execute(
            select(func.count(), good)
            .select_from(joined)
            .where(
                responses.c.survey_id == params.survey,
                responses.c.completed_at >= _stored(since),
                responses.c.completed_at < _stored(until),
                answers.c.value.is_not(None),
                answers.c.value != "",
            )
        )
    ).one()
    return int(row[1] or 0), int(row[0] or 0)


async def satisfaction_good_share(
    connection: AsyncConnection, params: MetricParams, since: datetime, until: datetime
) -> float | None:
    good, given = await satisfaction_answers(connection, params, since, until)
    return good / given if given else None


async def notice_reads(connection: AsyncConnection, since: datetime, until: datetime) -> tuple[int, int]:
    """(read, sent): broadcast messages sent in the window on channels that report reads."""
    sent = and_(
        deliveries.c.status == SENT,
        deliveries.c.channel.in_(list(READ_RECEIPT_CHANNELS)),
        deliveries.c.sent_at >= _stored(since),
        deliveries.c.sent_at < _stored(until),
    )
    # count(read_at) counts the rows with a read time: one pass over the window's rows.
    row = (await connection.execute(select(func.count(deliveries.c.read_at), func.count()).where(sent))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def notice_read_share(
    connection: AsyncConnection, _params: MetricParams, since: datetime, until: datetime
) -> float | None:
    read, sent = await notice_reads(connection, since, until)
    return read / sent if sent else None


@dataclass(frozen=True)
class SurveyRun:
    """A survey's responses started in a window and how many of them were completed."""

    survey_id: str
    started: int
    completed: int

    @property
    def response_rate(self) -> float | None:
        return self.completed / self.started if self.started else None


async def surveys_run(connection: AsyncConnection, since: datetime, until: datetime) -> list[SurveyRun]:
    """Per survey, the responses started in the window and how many of them are complete."""
    completed = func.count(responses.c.completed_at)  # counts the non-null values
    rows = await connection.execute(
        select(responses.c.survey_id, func.count(), completed)
        .where(responses.c.started_at >= _stored(since), responses.c.started_at < _stored(until))
        .group_by(responses.c.survey_id)
        .order_by(responses.c.survey_id)
    )
    return [SurveyRun(str(survey), int(started), int(done or 0)) for survey, started, done in rows]


METRICS: Mapping[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("registered_users", "registered users", COUNT, True, registered_users),
        Metric("new_registrations", "new registrations", COUNT, False, new_registrations),
        Metric("contacts_reached", "contacts reached by notices", COUNT, False, contacts_reached),
        Metric(
            "median_request_answer_working_days",
            "median time to answer a data request",
            DAYS,
            False,
            median_request_answer_working_days,
            series=median_request_answer_series,
        ),
        Metric(
            "satisfaction_good_share",
            "users satisfied (good or very good)",
            SHARE,
            False,
            satisfaction_good_share,
            needs=("survey", "question", "good"),
        ),
        Metric("notice_read_share", "notices read (where the channel reports it)", SHARE, False, notice_read_share),
    )
}


def shares(counts: Mapping[str | None, int], groups: Sequence[str]) -> dict[str, float]:
    """Each of ``groups``' share of all ``counts`` (0 when there is nobody)."""
    total = sum(counts.values())
    return {group: (counts.get(group, 0) / total if total else 0.0) for group in groups}


async def requests_received(connection: AsyncConnection, since: datetime, until: datetime) -> int:
    """Data requests that came in during the window."""
    found = await connection.scalar(
        select(func.count()).where(
            data_requests.c.created_at >= _stored(since), data_requests.c.created_at < _stored(until)
        )
    )
    return int(found or 0)
