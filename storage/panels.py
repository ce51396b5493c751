"""Panel members: a person's responses to the earlier waves of a panel, and who took part in a wave.

A panel follows a person from wave to wave by their contact, and across the phone channels by
their number: :func:`_persons` is the one place that says which responses are the person's (those
of the contact and of the contacts linked to it, :mod:`storage.linked_contacts`), so a person who
answered wave 1 on WhatsApp sees it in wave 2 by SMS or USSD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from storage.invitations import answered_per_response
from storage.linked_contacts import linked_clause
from storage.models import AnswerRow, ContactRow, ResponseRow
from storage.repositories import utc
from surveys.repeats import is_repeat_key

responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
contacts = cast(Table, ContactRow.__table__)


@dataclass(frozen=True)
class WaveResponse:
    """A person's response to one wave: its pseudonym, whether it was finished, and its answers
    (question name -> value; the answers of repeat passes left out)."""

    survey_id: str
    response_id: str
    respondent: str
    complete: bool
    started_at: datetime
    answers: Mapping[str, str | None]


def _persons(contact_id: int) -> ColumnElement[bool]:
    """The responses of the person whose contact is ``contact_id`` (on any linked phone channel)."""
    return responses.c.contact_id.in_(select(contacts.c.id).where(linked_clause(contact_id)))


async def wave_responses(
    connection: AsyncConnection, contact_id: int, survey_ids: Sequence[str]
) -> dict[str, WaveResponse]:
    """The response of the person of ``contact_id`` to each wave of ``survey_ids`` they answered
    (by survey id): their latest finished one, else the latest they started, with its answers.
    One query: a person has a response or two per wave."""
    if not survey_ids:
        return {}
    rows = await connection.execute(
        select(
            responses.c.id,
            responses.c.survey_id,
            responses.c.respondent,
            responses.c.started_at,
            responses.c.completed_at,
            answers.c.question,
            answers.c.value,
        )
        .select_from(responses.outerjoin(answers, answers.c.response_id == responses.c.id))
        .where(_persons(contact_id), responses.c.survey_id.in_(list(survey_ids)))
    )
    heads: dict[str, tuple[str, str, bool, datetime]] = {}
    given: dict[str, dict[str, str | None]] = {}
    for response_id, survey_id, respondent, started_at, completed_at, question, value in rows:
        if response_id not in heads:
            heads[response_id] = (survey_id, respondent, completed_at is not None, utc(started_at) or started_at)
            given[response_id] = {}
        if question is not None and not is_repeat_key(question):
            given[response_id][question] = value
    chosen: dict[str, WaveResponse] = {}
    for response_id, (survey_id, respondent, complete, started) in heads.items():
        kept = chosen.get(survey_id)
        if kept is None or (complete, started) > (kept.complete, kept.started_at):
            chosen[survey_id] = WaveResponse(survey_id, response_id, respondent, complete, started, given[response_id])
    return chosen


async def wave_participants(connection: AsyncConnection, survey_id: str, *, answered_at_least: int) -> set[int]:
    """The contacts who took part in the wave ``survey_id``: finished it, or answered at least
    ``answered_at_least`` of its questions (a partial interview) without being screened out (a
    full quota cell: not eligible, whatever they answered before)."""
    answered = answered_per_response(survey_id)
    rows = await connection.execute(
        select(responses.c.contact_id)
        .select_from(responses.outerjoin(answered, answered.c.response_id == responses.c.id))
        .where(
            responses.c.survey_id == survey_id,
            responses.c.contact_id.is_not(None),
            or_(
                responses.c.completed_at.is_not(None),
                and_(
                    responses.c.screened_out_at.is_(None),
                    func.coalesce(answered.c.answered, 0) >= answered_at_least,
                ),
            ),
        )
        .distinct()
    )
    return {int(contact_id) for (contact_id,) in rows}
