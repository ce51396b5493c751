"""The quarterly engagement report's figures: what ``baraza report engagement --quarter 2027Q1``
puts before the office's board (:mod:`bot.reports.engagement` draws it as HTML with its charts).

Everything is counted for the quarter ``[start, end)`` (UTC), or up to now for the quarter under
way: contacts reached by notices, new registrations by user group, the surveys run with their
response rates (responses completed / started), data requests and their answer times in working
days, satisfaction, notices read where the channel reports it, and each objective's status at the
end of the quarter (:func:`handlers.engagement.evaluate`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import BarazaError
from handlers.engagement import EngagementSettings, ObjectiveStatus, evaluate
from storage.engagement import (
    MetricParams,
    SurveyRun,
    contacts_reached,
    new_registrations_by_group,
    notice_reads,
    registered_at_count,
    request_answer_days,
    requests_received,
    satisfaction_answers,
    surveys_run,
)

QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


class ReportError(BarazaError):
    """The report cannot be made as asked (a quarter written wrongly, or not begun)."""


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the quarter."""
        return (
            datetime(self.year + 1, 1, 1, tzinfo=UTC)
            if self.number == 4
            else datetime(self.year, 3 * self.number + 1, 1, tzinfo=UTC)
        )


def parse_quarter(text: str) -> Quarter:
    """``2027Q1`` (or ``2027-Q1``) as a quarter; :class:`ReportError` otherwise."""
    found = QUARTER.match(text.strip())
    if found is None:
        raise ReportError(f"'{text}' is not a quarter such as 2027Q1")
    return Quarter(int(found.group(1)), int(found.group(2)))


@dataclass(frozen=True)
class EngagementReport:
    """The figures of one quarter (``until``: its end, or now for the quarter under way)."""

    quarter: Quarter
    until: datetime
    complete: bool
    contacts_reached: int
    registered: int
    new_registrations: dict[str, int]
    surveys: tuple[SurveyRun, ...]
    survey_titles: dict[str, str]
    requests_received: int
    answer_days: tuple[int, ...]
    #: (good, given) answers to the satisfaction question; None when no objective names one.
    satisfaction: tuple[int, int] | None
    satisfaction_question: str | None
    notices: tuple[int, int]
    objectives: tuple[ObjectiveStatus, ...]

    @property
    def median_answer_days(self) -> float | None:
        if not self.answer_days:
            return None
        ordered = sorted(self.answer_days)
        middle = len(ordered) // 2
        return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _satisfaction(settings: EngagementSettings) -> MetricParams | None:
    return next((o.params for o in settings.objectives if o.metric == "satisfaction_good_share"), None)


async def build_report(
    connection: AsyncConnection,
    quarter: Quarter,
    settings: EngagementSettings,
    *,
    groups: Sequence[str],
    survey_titles: dict[str, str],
    now: datetime,
) -> EngagementReport:
    """The figures of ``quarter`` (up to ``now`` if it is under way); :class:`ReportError` if it has not begun."""
    if quarter.start >= now:
        raise ReportError(f"{quarter.label} has not begun")
    until = min(quarter.end, now)
    since = quarter.start
    by_group = await new_registrations_by_group(connection, since, until)
    satisfaction_params = _satisfaction(settings)
    satisfaction = None
    if satisfaction_params is not None:
        satisfaction = await satisfaction_answers(connection, satisfaction_params, since, until)
    return EngagementReport(
        quarter=quarter,
        until=until,
        complete=until == quarter.end,
        contacts_reached=int(await contacts_reached(connection, MetricParams(), since, until)),
        registered=await registered_at_count(connection, until),
        new_registrations={
            group or "not given": count for group, count in sorted(by_group.items(), key=lambda g: -g[1])
        },
        surveys=tuple(await surveys_run(connection, since, until)),
        survey_titles=survey_titles,
        requests_received=await requests_received(connection, since, until),
        answer_days=tuple(await request_answer_days(connection, settings.working_days, since, until)),
        satisfaction=satisfaction,
        satisfaction_question=None
        if satisfaction_params is None
        else f"{satisfaction_params.survey}: {satisfaction_params.question} in {', '.join(satisfaction_params.good)}",
        notices=await notice_reads(connection, since, until),
        objectives=tuple(await evaluate(connection, settings, until, groups)),
    )
