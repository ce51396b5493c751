"""Survey invitations and their reminders: who was invited, when, and what became of it.

An invitation round is a broadcast (:mod:`storage.broadcasts`) whose delivery rows are the chosen
contacts, stored with one ``invitations`` row per contact in the same transaction; the durable
sender of ``baraza run`` sends it like any broadcast (at the configured rate, WhatsApp templates
outside the 24-hour window, ``sending`` committed before a message leaves, so that a crash never
sends a row twice). A reminder round is another broadcast, for the invitees who have not finished;
``invitation_reminders`` holds one row per invitation and reminder number (its primary key), so
a reminder is queued at most once whatever runs the round, however often.

:meth:`InvitationRepository.facts` reads what happened to each invitation (its delivery, the
person's response, an opt-out since), from which :mod:`handlers.invitations` derives the AAPOR
disposition. ``arm`` is the split-sample experiment arm the invitee was assigned; ``quota_cell`` is
kept for quotas (not set yet; a response's quota cells are :mod:`storage.quotas`').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, case, exists, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from common.clock import as_utc
from storage.broadcasts import Audience, in_audience, insert_broadcast, insert_deliveries, reachable
from storage.deliveries import PENDING, SENT, UNKNOWN
from storage.models import (
    AnswerRow,
    BroadcastRow,
    ContactRow,
    DeliveryRow,
    InvitationReminderRow,
    InvitationRow,
    ParticipationRow,
    ResponseRow,
)

invitations = cast(Table, InvitationRow.__table__)
reminders = cast(Table, InvitationReminderRow.__table__)
broadcasts = cast(Table, BroadcastRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
contacts = cast(Table, ContactRow.__table__)
participations = cast(Table, ParticipationRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)

#: How far before an invitation a response may seem to start (platform times are whole seconds).
CLOCK_GRAIN = timedelta(minutes=1)
#: Contact fields a sample can be stratified by.
STRATA_FIELDS = ("channel", "user_group", "region", "language")


def _stored(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Candidate:
    """A contact who may be invited: reachable, in the audience, not invited to this wave yet."""

    contact_id: int
    channel: str
    user_key: str
    user_group: str | None
    region: str | None
    language: str | None

    def field(self, name: str) -> str:
        """The value of a stratification field (``""`` when unknown)."""
        return str(getattr(self, name) or "")


@dataclass(frozen=True)
class InvitationFacts:
    """What happened to one invitation, as stored: the input of the disposition rules."""

    invitation_id: int
    survey_id: str
    wave: int
    contact_id: int | None
    channel: str
    user_key: str | None
    user_group: str | None
    stratum: str | None
    invited_at: datetime
    #: The invitation's delivery status (``sent``, ``failed``, ``skipped``...) and error.
    delivery_status: str | None
    delivery_error: str | None
    completed: bool
    started_at: datetime | None
    completed_at: datetime | None
    answered: int
    response_language: str | None
    #: Opted out, declined or blocked the bot after being invited.
    refused_at: datetime | None
    reminders_received: int
    #: Their response was screened out: their quota cell was full (:mod:`storage.quotas`).
    screened_out: bool = False
    #: The split-sample experiment arm the invitee was assigned (None: no experiment).
    arm: str | None = None


def _is_reachable_delivery() -> ColumnElement[bool]:
    return exists().where(
        deliveries.c.broadcast_id == invitations.c.broadcast_id,
        deliveries.c.contact_id == invitations.c.contact_id,
        deliveries.c.status.in_([SENT, UNKNOWN]),
    )


def _screened_out() -> ColumnElement[bool]:
    """The invitee was screened out of the survey (a full quota cell)."""
    return exists().where(
        responses.c.contact_id == invitations.c.contact_id,
        responses.c.survey_id == invitations.c.survey_id,
        responses.c.screened_out_at.is_not(None),
    )


def _completed() -> ColumnElement[bool]:
    """The invitee finished the survey (participations count anonymous surveys too)."""
    return exists().where(
        participations.c.contact_id == invitations.c.contact_id,
        participations.c.survey_id == invitations.c.survey_id,
        participations.c.completed > 0,
    )


def answered_per_response(survey_id: str) -> Subquery:
    """``(response_id, answered)``: how many questions each response to ``survey_id`` answered
    (skipped ones not counted); responses without an answer have no row."""
    return (
        select(answers.c.response_id, func.count().label("answered"))
        .where(
            answers.c.response_id.in_(select(responses.c.id).where(responses.c.survey_id == survey_id)),
            answers.c.value.is_not(None),
        )
        .group_by(answers.c.response_id)
        .subquery()
    )


class InvitationRepository:
    """Invitation and reminder rows. Runs in the caller's transaction, like every repository."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def candidates(
        self, survey_id: str, wave: int, audience: Audience, *, silent_before: datetime | None = None
    ) -> list[Candidate]:
        """Reachable contacts of ``audience`` not invited to ``survey_id``'s ``wave`` yet, by id:
        one per person linked across phone channels, on the channel a broadcast would use
        (:func:`storage.broadcasts.copy_elsewhere`, ``silent_before`` as there), and nobody
        whose person was invited to the wave on another of their contacts."""
        linked = contacts.alias("invited_contact")
        invited = (
            select(literal(1))
            .select_from(invitations.join(linked, linked.c.id == invitations.c.contact_id))
            .where(
                invitations.c.survey_id == survey_id,
                invitations.c.wave == wave,
                or_(linked.c.id == contacts.c.id, linked.c.phone_key == contacts.c.phone_key),
            )
            .exists()
        )
        rows = await self.connection.execute(
            select(
                contacts.c.id,
                contacts.c.channel,
                contacts.c.user_key,
                contacts.c.user_group,
                contacts.c.region,
                contacts.c.language,
            )
            .where(in_audience(audience, silent_before=silent_before), ~invited)
            .order_by(contacts.c.id)
        )
        return [Candidate(int(r.id), r.channel, r.user_key, r.user_group, r.region, r.language) for r in rows]

    async def _deliveries(self, broadcast_id: int, chosen: ColumnElement[bool], language: ColumnElement[str]) -> int:
        """One pending delivery of ``broadcast_id`` per invitation matching ``chosen`` (INSERT ... SELECT)."""
        rows = (
            select(
                literal(broadcast_id),
                contacts.c.id,
                contacts.c.channel,
                language,
                literal(PENDING),
                literal(0),
            )
            .select_from(invitations.join(contacts, contacts.c.id == invitations.c.contact_id))
            .where(chosen)
        )
        return await insert_deliveries(self.connection, broadcast_id, rows)

    async def invite(
        self,
        *,
        survey_id: str,
        wave: int,
        chosen: Sequence[Candidate],
        strata: Sequence[str | None],
        title: str,
        notice: str,
        languages: Sequence[str],
        default_language: str,
        created_by: str,
        now: datetime,
        send_at: datetime,
        arms: Sequence[str | None] | None = None,
    ) -> tuple[int, int]:
        """Store an invitation round: a broadcast, one invitation and one delivery per chosen
        contact (``strata[i]`` is ``chosen[i]``'s stratum, ``arms[i]`` its experiment arm);
        returns (broadcast id, invitations)."""
        arms = arms if arms is not None else [None] * len(chosen)
        broadcast_id = await insert_broadcast(
            self.connection, title=title, notice=notice, created_by=created_by, now=now, send_at=send_at
        )
        if chosen:
            await self.connection.execute(
                insert(invitations),
                [
                    {
                        "survey_id": survey_id,
                        "wave": wave,
                        "contact_id": candidate.contact_id,
                        "channel": candidate.channel,
                        "user_group": candidate.user_group,
                        "stratum": stratum,
                        "invited_at": _stored(send_at),
                        "broadcast_id": broadcast_id,
                        "arm": arm,
                        "quota_cell": None,
                    }
                    for candidate, stratum, arm in zip(chosen, strata, arms, strict=True)
                ],
            )
        count = await self._deliveries(
            broadcast_id, invitations.c.broadcast_id == broadcast_id, _language(languages, default_language)
        )
        return broadcast_id, count

    def _due(self, survey_id: str, number: int, invited_before: datetime) -> ColumnElement[bool]:
        """Invitations due for reminder ``number``: invited long enough ago, the invitation got
        through, not finished, not screened out, still reachable, and no reminder ``number`` or
        later queued."""
        later = exists().where(reminders.c.invitation_id == invitations.c.id, reminders.c.reminder >= number)
        return and_(
            invitations.c.survey_id == survey_id,
            invitations.c.invited_at <= _stored(invited_before),
            _is_reachable_delivery(),
            ~_completed(),
            ~_screened_out(),
            ~later,
            exists().where(contacts.c.id == invitations.c.contact_id, reachable()),
        )

    async def due_count(self, survey_id: str, number: int, invited_before: datetime) -> int:
        return int(
            await self.connection.scalar(
                select(func.count()).select_from(invitations).where(self._due(survey_id, number, invited_before))
            )
            or 0
        )

    async def queue_reminder(
        self,
        *,
        survey_id: str,
        number: int,
        invited_before: datetime,
        title: str,
        notice: str,
        languages: Sequence[str],
        default_language: str,
        created_by: str,
        now: datetime,
        send_at: datetime,
    ) -> tuple[int | None, int]:
        """Queue reminder ``number`` for every invitation due for it (:meth:`_due`), in the
        caller's transaction; returns (broadcast id, reminders), (None, 0) when nobody is due."""
        due = self._due(survey_id, number, invited_before)
        if not await self.connection.scalar(select(exists().where(due))):
            return None, 0
        broadcast_id = await insert_broadcast(
            self.connection, title=title, notice=notice, created_by=created_by, now=now, send_at=send_at
        )
        await self.connection.execute(
            reminders.insert().from_select(
                ["invitation_id", "reminder", "broadcast_id", "queued_at"],
                select(invitations.c.id, literal(number), literal(broadcast_id), literal(_stored(now))).where(due),
            )
        )
        queued = exists().where(reminders.c.invitation_id == invitations.c.id, reminders.c.broadcast_id == broadcast_id)
        count = await self._deliveries(broadcast_id, queued, _language(languages, default_language))
        return broadcast_id, count

    async def surveys(self) -> list[str]:
        """The surveys with invitations."""
        return [str(s) for s in await self.connection.scalars(select(invitations.c.survey_id).distinct())]

    async def invited_arm(self, contact_id: int, survey_id: str) -> str | None:
        """The experiment arm of the contact's latest invitation to ``survey_id`` (None: not invited,
        or invited without an arm)."""
        found = await self.connection.scalar(
            select(invitations.c.arm)
            .where(invitations.c.contact_id == contact_id, invitations.c.survey_id == survey_id)
            .order_by(invitations.c.wave.desc(), invitations.c.id.desc())
            .limit(1)
        )
        return None if found is None else str(found)

    async def facts(self, survey_id: str) -> list[InvitationFacts]:
        """What happened to each invitation of ``survey_id``, in invitation order.

        A handful of grouped queries (no query per invitation): the invitations with their
        delivery and contact, the survey's completions, responses, answer counts and reminders.
        """
        invitation_delivery = deliveries.alias("invitation_delivery")
        refused = func.coalesce(contacts.c.opted_out_at, contacts.c.blocked_at, contacts.c.declined_at)
        declined = and_(contacts.c.declined_at.is_not(None), contacts.c.declined_at >= contacts.c.consent_at)
        rows = (
            await self.connection.execute(
                select(
                    invitations,
                    contacts.c.user_key,
                    invitation_delivery.c.status.label("delivery_status"),
                    invitation_delivery.c.error.label("delivery_error"),
                    case(
                        (declined, refused), else_=func.coalesce(contacts.c.opted_out_at, contacts.c.blocked_at)
                    ).label("refused_at"),
                )
                .select_from(
                    invitations.outerjoin(contacts, contacts.c.id == invitations.c.contact_id).outerjoin(
                        invitation_delivery,
                        and_(
                            invitation_delivery.c.broadcast_id == invitations.c.broadcast_id,
                            invitation_delivery.c.contact_id == invitations.c.contact_id,
                        ),
                    )
                )
                .where(invitations.c.survey_id == survey_id)
                .order_by(invitations.c.id)
            )
        ).all()
        finished = set(
            await self.connection.scalars(
                select(participations.c.contact_id).where(
                    participations.c.survey_id == survey_id, participations.c.completed > 0
                )
            )
        )
        answered = answered_per_response(survey_id)
        # Per contact: a completed response first, else the latest started.
        found: dict[int, tuple[datetime | None, datetime | None, str, int, bool]] = {}
        for row in await self.connection.execute(
            select(
                responses.c.contact_id,
                responses.c.started_at,
                responses.c.completed_at,
                responses.c.language,
                func.coalesce(answered.c.answered, 0),
                responses.c.screened_out_at.is_not(None),
            )
            .select_from(responses.outerjoin(answered, answered.c.response_id == responses.c.id))
            .where(responses.c.survey_id == survey_id, responses.c.contact_id.is_not(None))
        ):
            candidate = (as_utc(row[1]), as_utc(row[2]), str(row[3]), int(row[4]), bool(row[5]))
            kept = found.get(int(row[0]))
            if kept is None or (kept[1] is None, -_seconds(kept[0])) > (candidate[1] is None, -_seconds(candidate[0])):
                found[int(row[0])] = candidate
        # Reminders received: the reminder rows of the survey's invitations matched, in Python,
        # with the deliveries of their rounds that reached the person (two plain scans; a
        # three-way join here is planned badly by PostgreSQL before its statistics are fresh).
        of_survey = select(invitations.c.id).where(invitations.c.survey_id == survey_id)
        queued = (
            await self.connection.execute(
                select(reminders.c.invitation_id, reminders.c.broadcast_id).where(
                    reminders.c.invitation_id.in_(of_survey)
                )
            )
        ).all()
        reached = {
            (int(broadcast_id), int(contact_id))
            for broadcast_id, contact_id in await self.connection.execute(
                select(deliveries.c.broadcast_id, deliveries.c.contact_id).where(
                    deliveries.c.broadcast_id.in_({int(b) for _, b in queued if b is not None}),
                    deliveries.c.status.in_([SENT, UNKNOWN]),
                    deliveries.c.contact_id.is_not(None),
                )
            )
        }
        contact_of = {int(row.id): row.contact_id for row in rows}
        received: dict[int, int] = {}
        for invitation_id, broadcast_id in queued:
            contact_id = contact_of.get(int(invitation_id))
            if broadcast_id is not None and contact_id is not None and (int(broadcast_id), int(contact_id)) in reached:
                received[int(invitation_id)] = received.get(int(invitation_id), 0) + 1
        facts = []
        for row in rows:
            started, completed_at, language, count, screened = (
                found.get(int(row.contact_id), (None, None, None, 0, False))
                if row.contact_id is not None
                else (None, None, None, 0, False)
            )
            invited_at = as_utc(row.invited_at)
            # Platforms date messages to the second: a response begun right after the invitation
            # may carry a time just before it.
            opened = started is not None and started >= invited_at - CLOCK_GRAIN
            facts.append(
                InvitationFacts(
                    invitation_id=int(row.id),
                    survey_id=row.survey_id,
                    wave=int(row.wave),
                    contact_id=row.contact_id,
                    channel=row.channel,
                    user_key=row.user_key,
                    user_group=row.user_group,
                    stratum=row.stratum,
                    invited_at=invited_at,
                    delivery_status=row.delivery_status,
                    delivery_error=row.delivery_error,
                    completed=row.contact_id in finished or completed_at is not None,
                    started_at=started if opened else None,
                    completed_at=completed_at,
                    answered=count if opened else 0,
                    response_language=language,
                    # Only reachable contacts are invited: an opt-out, block or withdrawal found
                    # now came after the invitation (a person who comes back has none).
                    refused_at=as_utc(row.refused_at),
                    reminders_received=received.get(int(row.id), 0),
                    screened_out=screened and opened,
                    arm=row.arm,
                )
            )
        return facts


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def _language(languages: Sequence[str], default_language: str) -> ColumnElement[str]:
    """The language a contact gets: theirs when the notice has it, else the notice's default."""
    return case((contacts.c.language.in_(list(languages)), contacts.c.language), else_=literal(default_language))


def undelivered(status: str | None) -> bool:
    """An invitation delivery that did not reach the person (or has not been sent yet)."""
    return status not in (SENT, UNKNOWN)


__all__ = [
    "STRATA_FIELDS",
    "Candidate",
    "InvitationFacts",
    "InvitationRepository",
    "undelivered",
]
