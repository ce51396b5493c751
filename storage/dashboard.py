"""The dashboard's read queries: engagement, survey results and the drop-out funnel.

Everything is counted by the database (GROUP BY), so a page costs a handful of queries however
many contacts or answers there are; only per-group results come back. Times are UTC.

Survey filters (:class:`ResultFilter`) use the *register* of the person who answered (user group
and region given at onboarding, with consent) and the time the response was started. Responses
to anonymous surveys, and of people who deleted their data, are linked to nobody: a user group or
region filter leaves them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import Table, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from common.clock import as_utc, start_of_day
from storage.models import AnswerRow, ContactRow, FeedbackRow, OutboxRow, ResponseRow
from storage.repository_base import Repository
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey

contacts = cast(Table, ContactRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
outbox = cast(Table, OutboxRow.__table__)
feedback = cast(Table, FeedbackRow.__table__)

#: How many of the latest free-text answers the results page shows per question.
LATEST_TEXTS = 10


def _day(value: Any) -> date:
    """``date()`` of SQLite gives text, PostgreSQL a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class DayCount:
    day: date
    new: int
    total: int  # contacts known at the end of the day


@dataclass(frozen=True)
class SurveyActivity:
    survey_id: str
    started: int
    completed: int
    median_seconds: float | None

    @property
    def completion_rate(self) -> float | None:
        """Completed responses / started responses (None before the first response)."""
        return self.completed / self.started if self.started else None


@dataclass(frozen=True)
class Engagement:
    contacts: int
    consenting: int
    active_7_days: int
    active_30_days: int
    by_user_group: Mapping[str | None, int]
    by_language: Mapping[str | None, int]
    by_region: Mapping[str | None, int]
    by_channel: Mapping[str | None, int]
    over_time: tuple[DayCount, ...]


@dataclass(frozen=True)
class NumberSummary:
    count: int
    minimum: Decimal
    maximum: Decimal
    mean: Decimal
    median: Decimal


@dataclass(frozen=True)
class TextAnswer:
    value: str
    answered_at: datetime


@dataclass(frozen=True)
class QuestionResult:
    """One question's answers among the filtered responses.

    ``counts``: answers per choice name (select_multiple: each ticked choice counts once) or per
    range point, in the survey's order; ``skipped``: answered "skip" (stored as no value).
    """

    question: Question
    answered: int
    skipped: int
    counts: tuple[tuple[str, int], ...] = ()
    numbers: NumberSummary | None = None
    latest: tuple[TextAnswer, ...] = ()
    earliest_date: str | None = None
    latest_date: str | None = None


@dataclass(frozen=True)
class FunnelStep:
    """Of the responses started, how many got to ``question`` and how many stopped there.

    ``reached``: responses that did not stop before it; ``answered``: those with an answer row
    for it (a question skipped by its relevance condition has none); ``stopped``: incomplete
    responses whose last answer was the question before (they were shown this one and left, or
    are still answering it).
    """

    question: Question
    reached: int
    answered: int
    stopped: int


@dataclass(frozen=True)
class Reply:
    """A message someone sent in reply to a broadcast, with their user group (if they gave one)."""

    text: str
    received_at: datetime
    user_group: str | None


@dataclass(frozen=True)
class ResultFilter:
    """Which responses a results page counts; None does not restrict. ``until`` is exclusive."""

    user_group: str | None = None
    region: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class VersionCount:
    """The responses started in one version of a survey (each response keeps the version it
    was started in: a survey changed while the bot runs has several)."""

    version: str
    started: int
    completed: int
    first_started: datetime
    last_started: datetime


@dataclass(frozen=True)
class SurveyResults:
    survey: Survey
    activity: SurveyActivity
    questions: tuple[QuestionResult, ...]
    funnel: tuple[FunnelStep, ...]
    filters: ResultFilter = field(default_factory=ResultFilter)


class DashboardQueries(Repository):
    """Read-only queries of the dashboard, on one connection."""

    # ------------------------------------------------------------------ engagement

    async def engagement(self, now: datetime, *, days: int = 30) -> Engagement:
        """Contacts, active users (seen in the last 7 and 30 days), the register's make-up and
        the number of contacts over the last ``days`` days (one entry per day, oldest first)."""
        total = await self._count(contacts)
        consenting = await self._count(
            contacts,
            and_(
                contacts.c.consent_at.is_not(None),
                (contacts.c.declined_at.is_(None)) | (contacts.c.declined_at < contacts.c.consent_at),
            ),
        )
        active_7 = await self._count(contacts, contacts.c.last_seen_at >= now - timedelta(days=7))
        active_30 = await self._count(contacts, contacts.c.last_seen_at >= now - timedelta(days=30))
        breakdown = {
            name: await self._group_count(column)
            for name, column in (
                ("user_group", contacts.c.user_group),
                ("language", contacts.c.language),
                ("region", contacts.c.region),
                ("channel", contacts.c.channel),
            )
        }
        return Engagement(
            contacts=total,
            consenting=consenting,
            active_7_days=active_7,
            active_30_days=active_30,
            by_user_group=breakdown["user_group"],
            by_language=breakdown["language"],
            by_region=breakdown["region"],
            by_channel=breakdown["channel"],
            over_time=await self._over_time(now, days),
        )

    async def _count(self, table: Table, condition: ColumnElement[bool] | None = None) -> int:
        query = select(func.count()).select_from(table)
        if condition is not None:
            query = query.where(condition)
        return int(await self.connection.scalar(query) or 0)

    async def _group_count(self, column: Any) -> dict[str | None, int]:
        rows = await self.connection.execute(
            select(column, func.count()).group_by(column).order_by(func.count().desc(), column)
        )
        return {value: int(count) for value, count in rows}

    async def _over_time(self, now: datetime, days: int) -> tuple[DayCount, ...]:
        first = (now - timedelta(days=days - 1)).date()
        start = start_of_day(first)
        before = await self._count(contacts, contacts.c.first_seen_at < start)
        day = func.date(contacts.c.first_seen_at)
        rows = await self.connection.execute(
            select(day, func.count()).where(contacts.c.first_seen_at >= start).group_by(day)
        )
        new = {_day(value): int(count) for value, count in rows}
        series: list[DayCount] = []
        running = before
        for offset in range(days):
            current = first + timedelta(days=offset)
            running += new.get(current, 0)
            series.append(DayCount(current, new.get(current, 0), running))
        return tuple(series)

    # ------------------------------------------------------------------ surveys

    async def survey_activity(self, filters: ResultFilter | None = None) -> dict[str, SurveyActivity]:
        """Per survey id: responses started and completed, and the median time to complete."""
        condition = self._response_condition(filters or ResultFilter())
        query = (
            select(responses.c.survey_id, func.count(), func.count(responses.c.completed_at))
            .select_from(responses.outerjoin(contacts, contacts.c.id == responses.c.contact_id))
            .group_by(responses.c.survey_id)
        )
        if condition is not None:
            query = query.where(condition)
        counts = {
            str(survey_id): (int(started), int(done))
            for survey_id, started, done in await self.connection.execute(query)
        }
        durations: dict[str, list[float]] = {survey_id: [] for survey_id in counts}
        seconds = self._seconds_between(responses.c.started_at, responses.c.completed_at)
        timing = (
            select(responses.c.survey_id, seconds)
            .select_from(responses.outerjoin(contacts, contacts.c.id == responses.c.contact_id))
            .where(responses.c.completed_at.is_not(None))
        )
        if condition is not None:
            timing = timing.where(condition)
        # Only two small columns per completed response: fetched at once, which is several times
        # faster than streaming them on SQLite.
        for survey_id, duration in (await self.connection.execute(timing)).all():
            if duration is not None:
                durations[str(survey_id)].append(round(float(duration), 3))
        return {
            survey_id: SurveyActivity(survey_id, started, done, _median(durations[survey_id]))
            for survey_id, (started, done) in counts.items()
        }

    async def survey_versions(self, survey_id: str, filters: ResultFilter | None = None) -> tuple[VersionCount, ...]:
        """The versions of ``survey_id`` responses were started in, the latest first."""
        condition = self._response_condition(filters or ResultFilter())
        query = (
            select(
                responses.c.survey_version,
                func.count(),
                func.count(responses.c.completed_at),
                func.min(responses.c.started_at),
                func.max(responses.c.started_at),
            )
            .select_from(responses.outerjoin(contacts, contacts.c.id == responses.c.contact_id))
            .where(responses.c.survey_id == survey_id)
            .group_by(responses.c.survey_version)
        )
        if condition is not None:
            query = query.where(condition)
        found = [
            VersionCount(str(version), int(started), int(done), as_utc(first), as_utc(last))
            for version, started, done, first, last in await self.connection.execute(query)
        ]
        return tuple(sorted(found, key=lambda count: count.last_started, reverse=True))

    def _seconds_between(self, start: Any, end: Any) -> Any:
        """``end - start`` in seconds, computed by the database."""
        if self.connection.dialect.name == "postgresql":
            return func.extract("epoch", end - start)
        return (func.julianday(end) - func.julianday(start)) * 86400.0

    def _response_condition(self, filters: ResultFilter) -> ColumnElement[bool] | None:
        clauses: list[ColumnElement[bool]] = []
        if filters.user_group is not None:
            clauses.append(contacts.c.user_group == filters.user_group)
        if filters.region is not None:
            clauses.append(contacts.c.region == filters.region)
        if filters.since is not None:
            clauses.append(responses.c.started_at >= filters.since.astimezone(UTC))
        if filters.until is not None:
            clauses.append(responses.c.started_at < filters.until.astimezone(UTC))
        return and_(*clauses) if clauses else None

    def _filtered_responses(self, survey: Survey, filters: ResultFilter) -> Any:
        """The ids of the survey's responses that pass ``filters`` (a subquery)."""
        query = (
            select(responses.c.id)
            .select_from(responses.outerjoin(contacts, contacts.c.id == responses.c.contact_id))
            .where(responses.c.survey_id == survey.id)
        )
        condition = self._response_condition(filters)
        if condition is not None:
            query = query.where(condition)
        return query

    async def results(self, survey: Survey, filters: ResultFilter | None = None) -> SurveyResults:
        """Per question the distribution of answers, and the drop-out funnel, of the filtered responses."""
        filters = filters or ResultFilter()
        chosen = self._filtered_responses(survey, filters)
        activity = (await self.survey_activity(filters)).get(survey.id, SurveyActivity(survey.id, 0, 0, None))
        name = _question_name(survey)
        rows = await self.connection.execute(
            select(name, answers.c.value, func.count())
            .where(answers.c.response_id.in_(chosen))
            .group_by(name, answers.c.value)
        )
        values: dict[str, dict[str | None, int]] = {}
        for question, value, count in rows:
            values.setdefault(str(question), {})[value] = int(count)
        questions = []
        for question in survey.data_questions:
            found = values.get(question.name, {})
            latest: tuple[TextAnswer, ...] = ()
            if question.type is QuestionType.TEXT:
                latest = await self._latest_texts(name, question.name, chosen)
            questions.append(_question_result(question, found, latest))
        # Responses with an answer row per question (a skip included): what the funnel counts as
        # "answered" (a question in a repeat has a row per pass, so responses are counted).
        if any(question.repeats for question in survey.data_questions):
            answered = {
                str(question): int(count)
                for question, count in await self.connection.execute(
                    select(name, func.count(answers.c.response_id.distinct()))
                    .where(answers.c.response_id.in_(chosen))
                    .group_by(name)
                )
            }
        else:
            answered = {question: sum(counts.values()) for question, counts in values.items()}
        funnel = await self._funnel(survey, chosen, answered, activity.started)
        return SurveyResults(survey, activity, tuple(questions), funnel, filters)

    async def _latest_texts(self, name: Any, question: str, chosen: Any) -> tuple[TextAnswer, ...]:
        rows = await self.connection.execute(
            select(answers.c.value, answers.c.answered_at)
            .where(answers.c.response_id.in_(chosen), name == question, answers.c.value.is_not(None))
            .order_by(answers.c.answered_at.desc(), answers.c.id.desc())
            .limit(LATEST_TEXTS)
        )
        return tuple(TextAnswer(value, as_utc(moment) or moment) for value, moment in rows)

    async def _funnel(
        self, survey: Survey, chosen: Any, answered: Mapping[str, int], started: int
    ) -> tuple[FunnelStep, ...]:
        asked = [question for question in survey.data_questions if question.is_asked]
        if not asked:
            return ()
        position = case(
            {question.name: index for index, question in enumerate(asked)},
            value=_question_name(survey),
            else_=literal(-1),
        )
        incomplete = chosen.where(responses.c.completed_at.is_(None))
        furthest = (
            select(responses.c.id.label("response_id"), func.coalesce(func.max(position), -1).label("furthest"))
            .select_from(responses.outerjoin(answers, answers.c.response_id == responses.c.id))
            .where(responses.c.id.in_(incomplete))
            .group_by(responses.c.id)
            .subquery()
        )
        stopped_after = {
            int(furthest_index): int(count)
            for furthest_index, count in await self.connection.execute(
                select(furthest.c.furthest, func.count()).group_by(furthest.c.furthest)
            )
        }
        steps = []
        reached = started
        for index, question in enumerate(asked):
            stopped = stopped_after.get(index - 1, 0)
            reached -= stopped
            steps.append(FunnelStep(question, reached, answered.get(question.name, 0), stopped))
        return tuple(steps)

    # ------------------------------------------------------------------ requests and queues

    async def region_names(self) -> list[str]:
        """The regions people gave, for the filters."""
        rows = await self.connection.execute(
            select(contacts.c.region).where(contacts.c.region.is_not(None)).distinct().order_by(contacts.c.region)
        )
        return [str(region) for (region,) in rows]

    async def broadcast_replies(self, broadcast_id: int, limit: int = 20) -> tuple[int, tuple[Reply, ...]]:
        """How many replies a broadcast got, and the latest ``limit`` of them, newest first."""
        total = await self._count(feedback, feedback.c.broadcast_id == broadcast_id)
        rows = await self.connection.execute(
            select(feedback.c.text, feedback.c.received_at, contacts.c.user_group)
            .select_from(feedback.outerjoin(contacts, contacts.c.id == feedback.c.contact_id))
            .where(feedback.c.broadcast_id == broadcast_id)
            .order_by(feedback.c.id.desc())
            .limit(limit)
        )
        return total, tuple(Reply(text, as_utc(moment) or moment, group) for text, moment, group in rows)

    async def pending_outbox(self) -> int:
        """Messages to single people waiting to be sent (answers to requests, release follows)."""
        return await self._count(outbox, outbox.c.status == "pending")


def _question_name(survey: Survey) -> Any:
    """The question an answer row answers: its key, or for a question in a repeat, whose rows are
    keyed by pass (``member[2]/age``, see :mod:`surveys.repeats`), the question's name, so that
    its answers are counted over the passes. "Add another?" answers (``member[1]?``) match no question."""
    in_repeats = [question.name for question in survey.data_questions if question.repeats]
    if not in_repeats:
        return answers.c.question
    return case(
        *((answers.c.question.like(f"%]/{_escaped(name)}", escape="\\"), literal(name)) for name in in_repeats),
        else_=answers.c.question,
    )


def _escaped(name: str) -> str:
    """``name`` for a LIKE pattern: its ``%`` and ``_`` are themselves."""
    return name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _median(values: Sequence[float]) -> float | None:
    """The median (the mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def median_seconds(values: Sequence[float]) -> float | None:
    """The median of ``values`` (public for the request statistics)."""
    return _median(values)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _question_result(
    question: Question, found: Mapping[str | None, int], latest: tuple[TextAnswer, ...]
) -> QuestionResult:
    skipped = found.get(None, 0)
    answered = sum(count for value, count in found.items() if value is not None)
    given = {value: count for value, count in found.items() if value is not None}
    if question.type in CHOICE_TYPES:
        tally = dict.fromkeys((choice.name for choice in question.choices), 0)
        for value, count in given.items():
            names = value.split() if question.type is QuestionType.SELECT_MULTIPLE else [value]
            for name in names:
                tally[name] = tally.get(name, 0) + count
        return QuestionResult(question, answered, skipped, counts=tuple(tally.items()))
    if question.type is QuestionType.RANGE:
        from surveys.answers import range_points

        tally = dict.fromkeys(range_points(question), 0)
        for value, count in given.items():
            tally[value] = tally.get(value, 0) + count
        return QuestionResult(question, answered, skipped, counts=tuple(tally.items()), numbers=_summary(given))
    if question.type in (QuestionType.INTEGER, QuestionType.DECIMAL, QuestionType.CALCULATE):
        return QuestionResult(question, answered, skipped, numbers=_summary(given))
    if question.type is QuestionType.DATE:
        days = sorted(given)
        return QuestionResult(
            question,
            answered,
            skipped,
            earliest_date=days[0] if days else None,
            latest_date=days[-1] if days else None,
        )
    return QuestionResult(question, answered, skipped, latest=latest)


def _summary(given: Mapping[str, int]) -> NumberSummary | None:
    """Count, minimum, maximum, mean and median of numbers given with their frequencies."""
    pairs = sorted((number, count) for value, count in given.items() if (number := _number(value)) is not None)
    total = sum(count for _, count in pairs)
    if not total:
        return None
    mean = sum((number * count for number, count in pairs), Decimal(0)) / total

    def nth(rank: int) -> Decimal:  # 0-based rank in the sorted multiset
        seen = 0
        for number, count in pairs:
            seen += count
            if rank < seen:
                return number
        return pairs[-1][0]

    median = nth(total // 2) if total % 2 else (nth(total // 2 - 1) + nth(total // 2)) / 2
    return NumberSummary(total, pairs[0][0], pairs[-1][0], mean, median)
