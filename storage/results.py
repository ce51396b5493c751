"""The respondents a results report is computed from, and the publications of results.

A survey's results are published as a snapshot (:func:`results.report.to_json`) taken when an
editor publishes: the public page shows the figures as of then, with the date of the data, until
it is withdrawn or published again. A live page would let anyone difference two days' figures and
recover the one answer given in between, which suppression cannot stop; a snapshot changes only
when staff decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update

from common.clock import as_utc
from results.report import Respondent as ResultsRespondent
from results.report import ResultsReport, from_json, published_questions, to_json
from storage.models import AnswerRow, ContactRow, ResponseRow, ResultsPublicationRow
from storage.repository_base import Repository
from surveys.model import Survey

contacts = cast(Table, ContactRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
publications = cast(Table, ResultsPublicationRow.__table__)


@dataclass(frozen=True)
class Publication:
    """A survey's results as published: who published them when, and the report."""

    id: int
    survey_id: str
    published_at: datetime
    published_by: str
    report: ResultsReport


class ResultsRepository(Repository):
    async def respondents(self, survey: Survey) -> tuple[list[ResultsRespondent], datetime | None]:
        """The survey's completed responses as respondents (register fields of the contact, the
        response's language and channel, the answers a report or the margins use), and the time
        of the latest completion (the date of the data)."""
        needed = {q.name for q in published_questions(survey)} | set(survey.results.margin_dimensions())
        rows = await self.connection.execute(
            select(
                responses.c.id,
                responses.c.channel,
                responses.c.language,
                responses.c.completed_at,
                contacts.c.user_group,
                contacts.c.region,
            )
            .select_from(responses.outerjoin(contacts, contacts.c.id == responses.c.contact_id))
            .where(responses.c.survey_id == survey.id, responses.c.completed_at.is_not(None))
            .order_by(responses.c.completed_at, responses.c.id)
        )
        people: dict[str, tuple[dict[str, str | None], dict[str, str | None]]] = {}
        latest: datetime | None = None
        for response_id, channel, language, completed_at, user_group, region in rows:
            profile = {"user_group": user_group, "region": region, "language": language, "channel": channel}
            people[str(response_id)] = (profile, {})
            moment = as_utc(completed_at)
            if moment is not None and (latest is None or moment > latest):
                latest = moment
        if people and needed:
            given = await self.connection.execute(
                select(answers.c.response_id, answers.c.question, answers.c.value)
                .select_from(answers.join(responses, responses.c.id == answers.c.response_id))
                .where(
                    responses.c.survey_id == survey.id,
                    responses.c.completed_at.is_not(None),
                    answers.c.question.in_(sorted(needed)),
                )
            )
            for response_id, question, value in given:
                person = people.get(str(response_id))
                if person is not None:
                    person[1][str(question)] = value
        return [ResultsRespondent(profile, given) for profile, given in people.values()], latest

    async def publish(self, survey: Survey, report: ResultsReport, *, actor: str, now: datetime) -> int:
        """Store ``report`` as the survey's published results (replacing any earlier publication)."""
        await self._withdraw(survey.id, actor, now)
        result = await self.connection.execute(
            publications.insert().values(
                survey_id=survey.id,
                survey_version=survey.version,
                published_at=now.astimezone(UTC),
                published_by=actor[:120],
                data_as_of=report.data_as_of.astimezone(UTC) if report.data_as_of else None,
                respondents=report.respondents,
                snapshot=to_json(report),
            )
        )
        return int(cast(Any, result).inserted_primary_key[0])

    async def withdraw(self, survey_id: str, *, actor: str, now: datetime) -> bool:
        """Take the survey's results off the public page; False if they were not published."""
        return await self._withdraw(survey_id, actor, now) > 0

    async def _withdraw(self, survey_id: str, actor: str, now: datetime) -> int:
        result = await self.connection.execute(
            update(publications)
            .where(publications.c.survey_id == survey_id, publications.c.withdrawn_at.is_(None))
            .values(withdrawn_at=now.astimezone(UTC), withdrawn_by=actor[:120])
        )
        return int(result.rowcount or 0)

    async def current(self, survey_id: str) -> Publication | None:
        """The survey's published results, if they are published now."""
        row = (
            await self.connection.execute(
                select(publications)
                .where(publications.c.survey_id == survey_id, publications.c.withdrawn_at.is_(None))
                .order_by(publications.c.published_at.desc(), publications.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        published_at = as_utc(row.published_at) or row.published_at
        return Publication(row.id, row.survey_id, published_at, row.published_by, from_json(row.snapshot))

    async def published_surveys(self, survey_ids: list[str]) -> set[str]:
        """Which of ``survey_ids`` have results published now."""
        if not survey_ids:
            return set()
        rows = await self.connection.execute(
            select(publications.c.survey_id, func.count())
            .where(publications.c.survey_id.in_(survey_ids), publications.c.withdrawn_at.is_(None))
            .group_by(publications.c.survey_id)
        )
        return {str(survey_id) for survey_id, _ in rows}
