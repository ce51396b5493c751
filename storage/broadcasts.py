"""Broadcasts: release notices and survey invitations to many contacts, one delivery row each.

A broadcast is stored with *all* its delivery rows in one transaction before anything is sent.
The durable sender of ``baraza run`` (:mod:`bot.sending.sender`, its source
:mod:`bot.sending.broadcast_rows`) then moves each row through

    pending ─► sending ─► sent | failed | unknown          (skipped, cancelled: never sent)

with the statements of :mod:`storage.deliveries`, which the one-person outbox shares:
``sending`` is committed *before* the message leaves, so that a crash can only leave rows in
``sending``; those become ``unknown`` when the sender starts again and are neither resent nor
counted as delivered unless staff ask (:meth:`BroadcastRepository.resend_unknown`). Rows are
claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers can share the work.

Who receives a broadcast: contacts who consented (and did not decline afterwards), did not
opt out, did not block the bot, on a channel that can push messages, and who match the
audience (any of the listed topics they follow, user groups, regions, languages; an empty list
does not restrict). The same checks run again when a row is claimed, so someone who sends /stop
or deletes their data while a broadcast is under way gets nothing more (the row is ``skipped``).
A person linked across phone channels gets one copy, on the cheapest channel that can receive
it (:func:`copy_elsewhere`; docs/broadcasts.md).

Broadcast statuses: ``draft`` (being composed in the chat) → ``scheduled`` → ``sending`` →
``done``; ``cancelled`` by staff.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from common.clock import as_utc
from storage import deliveries as lifecycle
from storage.deliveries import BLOCKED, FAILED, PENDING, SENDING, SENT, UNKNOWN, Outcome
from storage.models import BroadcastRow, ContactRow, DeliveryRow, ReleaseFollowRow, ResultsOptInRow, SubscriptionRow
from storage.webpush import WEB_CHANNEL, has_push

broadcasts = cast(Table, BroadcastRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)
contacts = cast(Table, ContactRow.__table__)
subscriptions = cast(Table, SubscriptionRow.__table__)
release_follows = cast(Table, ReleaseFollowRow.__table__)
results_optins = cast(Table, ResultsOptInRow.__table__)

#: Channels on which Baraza can start a conversation: the web chat only for the people whose
#: browser accepted notifications (Web Push, :mod:`storage.webpush`); SMS (issue 21).
PUSH_CHANNELS = ("telegram", "whatsapp", WEB_CHANNEL, "sms")

# A broadcast's own statuses (``sending`` is also a delivery's: :mod:`storage.deliveries`).
DRAFT, SCHEDULED, DONE, CANCELLED = "draft", "scheduled", "done", "cancelled"
SKIPPED = "skipped"
#: Every delivery status, in the order ``baraza broadcast status`` shows them.
DELIVERY_STATUSES = (SENT, PENDING, SENDING, UNKNOWN, FAILED, BLOCKED, SKIPPED, CANCELLED)
IN_FLIGHT_AT_START = "in flight when the dispatcher stopped: delivery unknown"


def _stored(moment: datetime) -> datetime:
    """A moment as stored: UTC (SQLite keeps the wall time and drops the zone)."""
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Audience:
    """Who a broadcast is for; an empty tuple does not restrict. Values are ORed within a field.

    ``followers_of`` (a release calendar id) adds the people following that release, whatever
    topics they follow: the interest condition becomes "follows one of ``topics`` OR follows the
    release" (only the release's followers when ``topics`` is empty).

    ``feedback_for`` (a survey id) makes it a "you said, we did" notice: for the respondents of
    that survey who asked to hear what the office does with the results. Their opt-in stands in
    for the register's consent (:mod:`storage.survey_feedback`); the other filters are not used.
    """

    topics: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = PUSH_CHANNELS
    followers_of: str | None = None
    feedback_for: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "topics": list(self.topics),
                "user_groups": list(self.user_groups),
                "regions": list(self.regions),
                "languages": list(self.languages),
                "channels": list(self.channels),
                **({"followers_of": self.followers_of} if self.followers_of is not None else {}),
                **({"feedback_for": self.feedback_for} if self.feedback_for is not None else {}),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Audience:
        raw: Mapping[str, Any] = json.loads(text or "{}")
        return cls(
            topics=tuple(raw.get("topics", ())),
            user_groups=tuple(raw.get("user_groups", ())),
            regions=tuple(raw.get("regions", ())),
            languages=tuple(raw.get("languages", ())),
            channels=tuple(raw.get("channels", PUSH_CHANNELS)),
            followers_of=raw.get("followers_of"),
            feedback_for=raw.get("feedback_for"),
        )

    def describe(self) -> str:
        if self.feedback_for is not None:
            return f"respondents of survey {self.feedback_for} who asked to hear what is done with the results"
        parts = [
            f"{what} {', '.join(values)}"
            for what, values in (
                ("topics", self.topics),
                ("user groups", self.user_groups),
                ("regions", self.regions),
                ("languages", self.languages),
            )
            if values
        ]
        if self.followers_of is not None and self.topics:  # topics come first: "topics a, b or following ..."
            parts[0] += f" or following release {self.followers_of}"
        elif self.followers_of is not None:
            parts.insert(0, f"following release {self.followers_of}")
        return "; ".join(parts) if parts else "everyone who agreed to receive notices"


@dataclass(frozen=True)
class BroadcastSummary:
    """A broadcast and how far its deliveries got (``counts`` by :data:`DELIVERY_STATUSES`)."""

    id: int
    title: str
    status: str
    created_by: str
    created_at: datetime
    send_at: datetime
    finished_at: datetime | None
    recipients: int
    counts: Mapping[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return int(self.counts.get(status, 0))

    @property
    def outstanding(self) -> int:
        """Rows still to be sent or being sent."""
        return self.count(PENDING) + self.count(SENDING)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery row the durable sender has marked ``sending`` and now sends."""

    id: int
    broadcast_id: int
    contact_id: int
    channel: str
    chat_key: str
    language: str


@dataclass(frozen=True)
class Claim:
    deliveries: list[ClaimedDelivery]
    #: The earliest send time of a broadcast that is not due yet (to sleep until then).
    next_due: datetime | None


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    title: str
    notice: str
    audience: Audience


def reachable() -> ColumnElement[bool]:
    """Contacts who may receive notices: consented (and did not decline since), not opted out, not
    blocked, and on the web chat only with a browser that accepted notifications."""
    return and_(
        contacts.c.consent_at.is_not(None),
        or_(contacts.c.declined_at.is_(None), contacts.c.declined_at < contacts.c.consent_at),
        contacts.c.opted_out_at.is_(None),
        contacts.c.blocked_at.is_(None),
        or_(contacts.c.channel != WEB_CHANNEL, has_push()),
    )


def _follows(topics: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(subscriptions.c.contact_id == contacts.c.id, subscriptions.c.topic.in_(list(topics)))


def _follows_release(release_id: str) -> ColumnElement[bool]:
    return exists().where(release_follows.c.contact_id == contacts.c.id, release_follows.c.release_id == release_id)


async def insert_broadcast(
    connection: AsyncConnection,
    *,
    title: str,
    notice: str,
    created_by: str,
    now: datetime,
    send_at: datetime,
    audience: Audience | None = None,
    status: str = SCHEDULED,
) -> int:
    """Store a broadcast row with no recipients yet (:func:`insert_deliveries` adds them); returns its
    id. Without an audience (an invitation round: the recipients are chosen one by one) it stores ``Audience()``."""
    result = await connection.execute(
        broadcasts.insert()
        .values(
            title=title[:200],
            notice=notice,
            audience=(audience or Audience()).to_json(),
            status=status,
            created_by=created_by[:100],
            created_at=_stored(now),
            send_at=_stored(send_at),
            finished_at=None,
            recipients=0,
        )
        .returning(broadcasts.c.id)
    )
    return int(result.scalar_one())


async def insert_deliveries(connection: AsyncConnection, broadcast_id: int, rows: Select[Any]) -> int:
    """Copy ``rows`` (broadcast id, contact id, channel, language, status, attempts) into the
    deliveries in one INSERT ... SELECT, and set the broadcast's recipients; returns them."""
    await connection.execute(
        deliveries.insert().from_select(
            ["broadcast_id", "contact_id", "channel", "language", "status", "attempts"], rows
        )
    )
    recipients = int(
        await connection.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.broadcast_id == broadcast_id)
        )
        or 0
    )
    await connection.execute(update(broadcasts).where(broadcasts.c.id == broadcast_id).values(recipients=recipients))
    return recipients


def opted_in_to_feedback(survey_id: str) -> ColumnElement[bool]:
    """The contact asked, at the end of ``survey_id``, to hear what the office does with the results."""
    return exists().where(
        results_optins.c.contact_id == contacts.c.id,
        results_optins.c.survey_id == survey_id,
        results_optins.c.wants == 1,
    )


def pending_rows(broadcast_id: int, languages: Sequence[str], default_language: str) -> Select[Any]:
    """One pending delivery of ``broadcast_id`` per contact the caller selects (``.where(...)``),
    in the columns :func:`insert_deliveries` copies, each in the contact's language when the
    notice has it. The chat key is read from the contact when the row is sent, so that erasing a
    contact leaves no chat id behind in the deliveries."""
    return select(
        literal(broadcast_id),
        contacts.c.id,
        contacts.c.channel,
        _delivery_language(languages, default_language),
        literal(PENDING),
        literal(0),
    )


def _interested(audience: Audience) -> ColumnElement[bool] | None:
    """The topic (or release, or survey feedback) condition of an audience; None when it does not restrict."""
    if audience.feedback_for is not None:
        return opted_in_to_feedback(audience.feedback_for)
    if audience.followers_of is not None:
        release = _follows_release(audience.followers_of)
        return or_(_follows(audience.topics), release) if audience.topics else release
    return _follows(audience.topics) if audience.topics else None


def _filters(audience: Audience) -> list[ColumnElement[bool]]:
    """The conditions of an audience's user groups, regions, languages and topics (those it sets)."""
    clauses: list[ColumnElement[bool]] = []
    if audience.user_groups:
        clauses.append(contacts.c.user_group.in_(list(audience.user_groups)))
    if audience.regions:
        clauses.append(contacts.c.region.in_(list(audience.regions)))
    if audience.languages:
        clauses.append(contacts.c.language.in_(list(audience.languages)))
    interested = _interested(audience)
    if interested is not None:
        clauses.append(interested)
    return clauses


def in_audience(audience: Audience, *, silent_before: datetime | None = None) -> ColumnElement[bool]:
    """The contacts a broadcast to ``audience`` goes to: reachable, matching its filters, and the
    one copy of each person linked across phone channels (:func:`copy_elsewhere`)."""
    return and_(
        reachable(),
        contacts.c.channel.in_(list(audience.channels)),
        *_filters(audience),
        ~copy_elsewhere(audience, silent_before),
    )


#: Cheapest first: the channel a person linked across phone channels gets one copy on.
CHANNEL_COST = {"whatsapp": 0, "sms": 1}


def _cost(table: Any) -> ColumnElement[int]:
    return case(*((table.c.channel == name, literal(rank)) for name, rank in CHANNEL_COST.items()), else_=literal(9))


def copy_elsewhere(audience: Audience, silent_before: datetime | None = None) -> ColumnElement[bool]:
    """One person, one copy: the contact's person gets the broadcast on another of their linked
    contacts (same ``phone_key``, :mod:`storage.linked_contacts`) instead of this one.

    The copy goes to the linked contact that can receive it and costs least (WhatsApp, then
    SMS; USSD cannot receive pushed messages), the one last used when two cost the same. Can
    receive: consented, not opted out *on that channel*, not blocked, on one of the audience's
    channels, and for WhatsApp within the 24-hour window unless the notice has a template
    (``silent_before``, see :func:`handlers.broadcast_actions.whatsapp_silent_before`). A person
    who opted out on WhatsApp thus still gets the SMS copy if SMS can reach them, and a
    WhatsApp contact outside the window yields to their SMS contact.
    """
    other = contacts.alias("linked_contact")
    receivable = [
        other.c.phone_key == contacts.c.phone_key,
        other.c.id != contacts.c.id,
        other.c.channel.in_(list(audience.channels)),
        other.c.consent_at.is_not(None),
        or_(other.c.declined_at.is_(None), other.c.declined_at < other.c.consent_at),
        other.c.opted_out_at.is_(None),
        other.c.blocked_at.is_(None),
    ]
    if silent_before is not None:
        receivable.append(or_(other.c.channel != "whatsapp", other.c.last_seen_at >= _stored(silent_before)))
    filters = _filters(audience)
    if filters:
        # The other contact must match the audience too: most fields are the person's, but a
        # survey-feedback opt-in (or a follow made before linking) belongs to one contact.
        receivable.append(other.c.id.in_(select(contacts.c.id).where(*filters).correlate(None)))
    mine, theirs = _cost(contacts), _cost(other)
    ranks_before = or_(
        theirs < mine,
        and_(
            theirs == mine,
            or_(
                other.c.last_seen_at > contacts.c.last_seen_at,
                and_(other.c.last_seen_at == contacts.c.last_seen_at, other.c.id < contacts.c.id),
            ),
        ),
    )
    if silent_before is not None:
        # This contact cannot receive it (WhatsApp outside the window): any receivable link wins.
        cannot = and_(contacts.c.channel == "whatsapp", contacts.c.last_seen_at < _stored(silent_before))
        ranks_before = or_(cannot, ranks_before)
    return and_(contacts.c.phone_key.is_not(None), exists().where(*receivable, ranks_before))


#: Why a contact who matches an audience's filters is left out of a broadcast (:meth:`BroadcastRepository.reach`).
NO_CONSENT = "no consent"
OPTED_OUT = "opted out"
WEB_CHAT_ONLY = "web chat only (cannot receive notices yet)"
WEB_NO_PUSH = "web chat without notifications: sees it at next visit"
OUTSIDE_WINDOW = "outside WhatsApp's 24-hour window without a template"
#: The same person (linked by phone number) gets their one copy on another channel (:func:`copy_elsewhere`).
ON_ANOTHER_CHANNEL = "same person, sent on another channel"
USSD_ONLY = "USSD only (cannot receive pushed messages)"
LEFT_OUT_REASONS = (
    NO_CONSENT,
    OPTED_OUT,
    BLOCKED,
    ON_ANOTHER_CHANNEL,
    WEB_NO_PUSH,
    WEB_CHAT_ONLY,
    USSD_ONLY,
    OUTSIDE_WINDOW,
)
#: WhatsApp lets a business write freely for 24 hours after the person's last message (a margin kept).
WHATSAPP_SERVICE_WINDOW = timedelta(hours=24) - timedelta(minutes=10)


@dataclass(frozen=True)
class ChannelReach:
    """On one channel: how many of an audience a broadcast reaches, and why the others are left out."""

    channel: str
    reached: int
    left_out: Mapping[str, int]


@dataclass(frozen=True)
class Reach:
    """Who an audience reaches, channel by channel (:meth:`BroadcastRepository.reach`)."""

    channels: tuple[ChannelReach, ...]

    @property
    def reached(self) -> int:
        return sum(channel.reached for channel in self.channels)

    @property
    def left_out(self) -> dict[str, int]:
        """Everyone left out, by reason (in :data:`LEFT_OUT_REASONS` order)."""
        totals = {reason: sum(c.left_out.get(reason, 0) for c in self.channels) for reason in LEFT_OUT_REASONS}
        return {reason: count for reason, count in totals.items() if count}


def _targeted(audience: Audience) -> ColumnElement[bool]:
    """The audience's filters without the conditions of reachability: who the staff meant."""
    channel = or_(contacts.c.channel.in_(list(audience.channels)), contacts.c.channel.not_in(list(PUSH_CHANNELS)))
    return and_(channel, *_filters(audience))


def _delivery_language(languages: Sequence[str], default_language: str) -> ColumnElement[str]:
    """The language a contact gets: theirs when the notice has it, else the notice's default."""
    return case((contacts.c.language.in_(list(languages)), contacts.c.language), else_=literal(default_language))


class BroadcastRepository:
    """Broadcast and delivery rows. Runs in the caller's transaction, like every repository."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._postgres = connection.dialect.name == "postgresql"

    # ------------------------------------------------------------------ audience

    async def audience_size(self, audience: Audience, *, silent_before: datetime | None = None) -> int:
        """How many people a broadcast to ``audience`` goes to (one copy per person)."""
        chosen = in_audience(audience, silent_before=silent_before)
        return int(await self.connection.scalar(select(func.count()).select_from(contacts).where(chosen)) or 0)

    async def audience_languages(
        self,
        audience: Audience,
        languages: Sequence[str],
        default_language: str,
        *,
        silent_before: datetime | None = None,
    ) -> dict[str, int]:
        """How many recipients would get each language of the notice."""
        language = _delivery_language(languages, default_language).label("language")
        chosen = in_audience(audience, silent_before=silent_before)
        rows = await self.connection.execute(
            select(language, func.count()).select_from(contacts).where(chosen).group_by(language)
        )
        return {str(name): int(count) for name, count in rows}

    async def reach(self, audience: Audience, *, silent_before: datetime | None = None) -> Reach:
        """Everyone the audience's filters match, by channel: how many a broadcast reaches and
        why the others are left out (no consent, opted out, blocked, web chat without notifications,
        the same person sent a copy on another channel), so that it counts people. With
        ``silent_before`` (a notice without a WhatsApp template: now minus
        :data:`WHATSAPP_SERVICE_WINDOW`), WhatsApp contacts who last wrote before it are left out too."""
        consented = and_(
            contacts.c.consent_at.is_not(None),
            or_(contacts.c.declined_at.is_(None), contacts.c.declined_at < contacts.c.consent_at),
        )
        whens: list[tuple[ColumnElement[bool], Any]] = [
            (~consented, literal(NO_CONSENT)),
            (contacts.c.opted_out_at.is_not(None), literal(OPTED_OUT)),
            (contacts.c.blocked_at.is_not(None), literal(BLOCKED)),
            (copy_elsewhere(audience, silent_before), literal(ON_ANOTHER_CHANNEL)),
            (and_(contacts.c.channel == WEB_CHANNEL, ~has_push()), literal(WEB_NO_PUSH)),
            (contacts.c.channel == "ussd", literal(USSD_ONLY)),
            (contacts.c.channel.not_in(list(PUSH_CHANNELS)), literal(WEB_CHAT_ONLY)),
        ]
        if silent_before is not None:
            silent = and_(contacts.c.channel == "whatsapp", contacts.c.last_seen_at < _stored(silent_before))
            whens.append((silent, literal(OUTSIDE_WINDOW)))
        reason = case(*whens, else_=literal("")).label("reason")
        rows = await self.connection.execute(
            select(contacts.c.channel, reason, func.count())
            .select_from(contacts)
            .where(_targeted(audience))
            .group_by(contacts.c.channel, reason)
        )
        found: dict[str, dict[str, int]] = {}
        for channel, why, count in rows:
            found.setdefault(str(channel), {})[str(why)] = int(count)
        ordered = [c for c in audience.channels if c in found] + sorted(c for c in found if c not in audience.channels)
        return Reach(
            tuple(
                ChannelReach(
                    channel,
                    found[channel].get("", 0),
                    {why: found[channel][why] for why in LEFT_OUT_REASONS if found[channel].get(why)},
                )
                for channel in ordered
            )
        )

    async def topic_sizes(self, topics: Sequence[str]) -> dict[str, int]:
        """For each topic, how many reachable people follow it (one per person: :func:`copy_elsewhere`)."""
        rows = await self.connection.execute(
            select(subscriptions.c.topic, func.count())
            .select_from(subscriptions.join(contacts, contacts.c.id == subscriptions.c.contact_id))
            .where(
                subscriptions.c.topic.in_(list(topics)),
                reachable(),
                contacts.c.channel.in_(list(PUSH_CHANNELS)),
                ~copy_elsewhere(Audience()),  # people, not contacts
            )
            .group_by(subscriptions.c.topic)
        )
        sizes = {topic: 0 for topic in topics}
        sizes.update({str(topic): int(count) for topic, count in rows})
        return sizes

    # ------------------------------------------------------------------ creating

    async def create(
        self,
        *,
        title: str,
        notice: str,
        audience: Audience,
        languages: Sequence[str],
        default_language: str,
        created_by: str,
        now: datetime,
        send_at: datetime | None = None,
        silent_before: datetime | None = None,
    ) -> tuple[int, int]:
        """Store a broadcast and one pending delivery per recipient (one per person:
        :func:`copy_elsewhere`, ``silent_before`` as there); returns (id, recipients)."""
        broadcast_id = await insert_broadcast(
            self.connection,
            title=title,
            notice=notice,
            audience=audience,
            status=SCHEDULED,
            created_by=created_by,
            now=now,
            send_at=send_at or now,
        )
        recipients = await self._insert_deliveries(
            broadcast_id, audience, languages, default_language, silent_before=silent_before
        )
        return broadcast_id, recipients

    async def create_draft(self, *, title: str, notice: str, created_by: str, now: datetime) -> int:
        """A broadcast being composed in the chat: no deliveries until :meth:`confirm_draft`."""
        return await insert_broadcast(
            self.connection,
            title=title,
            notice=notice,
            status=DRAFT,
            created_by=created_by,
            now=now,
            send_at=now,
        )

    async def update_draft(self, broadcast_id: int, *, title: str, notice: str) -> None:
        await self.connection.execute(
            update(broadcasts)
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == DRAFT)
            .values(title=title[:200], notice=notice)
        )

    async def discard_draft(self, broadcast_id: int) -> None:
        await self.connection.execute(
            delete(broadcasts).where(broadcasts.c.id == broadcast_id, broadcasts.c.status == DRAFT)
        )

    async def confirm_draft(
        self,
        broadcast_id: int,
        *,
        audience: Audience,
        languages: Sequence[str],
        default_language: str,
        now: datetime,
        silent_before: datetime | None = None,
    ) -> int | None:
        """Turn a draft into a broadcast sent now; returns the recipients (one per person,
        ``silent_before`` as in :func:`copy_elsewhere`), None if it is no longer a draft."""
        result = await self.connection.execute(
            update(broadcasts)
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == DRAFT)
            .values(status=SCHEDULED, audience=audience.to_json(), send_at=_stored(now))
        )
        if not result.rowcount:
            return None
        return await self._insert_deliveries(
            broadcast_id, audience, languages, default_language, silent_before=silent_before
        )

    async def _insert_deliveries(
        self,
        broadcast_id: int,
        audience: Audience,
        languages: Sequence[str],
        default_language: str,
        *,
        silent_before: datetime | None = None,
    ) -> int:
        # One INSERT ... SELECT: the database copies the audience itself, 100,000 rows in a second.
        chosen = pending_rows(broadcast_id, languages, default_language).where(
            in_audience(audience, silent_before=silent_before)
        )
        return await insert_deliveries(self.connection, broadcast_id, chosen)

    # ------------------------------------------------------------------ reading

    async def notice(self, broadcast_id: int) -> NoticeRecord | None:
        row = (
            await self.connection.execute(
                select(broadcasts.c.id, broadcasts.c.title, broadcasts.c.notice, broadcasts.c.audience).where(
                    broadcasts.c.id == broadcast_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return NoticeRecord(int(row.id), row.title, row.notice, Audience.from_json(row.audience))

    async def missed_by(self, contact_id: int, since: datetime, until: datetime) -> list[NoticeRecord]:
        """The broadcasts sent after ``since`` (up to ``until``) whose audience takes in the
        contact, whether or not a message could reach them: what a web-chat contact without
        notifications is shown at their next visit. Oldest first."""
        rows = await self.connection.execute(
            select(broadcasts.c.id, broadcasts.c.title, broadcasts.c.notice, broadcasts.c.audience)
            .where(
                broadcasts.c.status.not_in([DRAFT, CANCELLED]),
                broadcasts.c.send_at > _stored(since),
                broadcasts.c.send_at <= _stored(until),
            )
            .order_by(broadcasts.c.send_at, broadcasts.c.id)
        )
        consented = and_(
            contacts.c.consent_at.is_not(None),
            or_(contacts.c.declined_at.is_(None), contacts.c.declined_at < contacts.c.consent_at),
            contacts.c.opted_out_at.is_(None),
            contacts.c.blocked_at.is_(None),
        )
        missed: list[NoticeRecord] = []
        for row in list(rows):
            audience = Audience.from_json(row.audience)
            matched = await self.connection.scalar(
                select(func.count())
                .select_from(contacts)
                .where(contacts.c.id == contact_id, consented, _targeted(audience))
            )
            if matched:
                missed.append(NoticeRecord(int(row.id), row.title, row.notice, audience))
        return missed

    async def summary(self, broadcast_id: int) -> BroadcastSummary | None:
        found = await self._summaries(broadcasts.c.id == broadcast_id, limit=1)
        return found[0] if found else None

    async def recent(self, limit: int = 20) -> list[BroadcastSummary]:
        """The newest broadcasts (drafts left out), newest first."""
        return await self._summaries(broadcasts.c.status != DRAFT, limit=limit)

    async def _summaries(self, condition: ColumnElement[bool], limit: int) -> list[BroadcastSummary]:
        stored = ("id", "title", "status", "created_by", "created_at", "send_at", "finished_at", "recipients")
        query = select(*(broadcasts.c[name] for name in stored)).where(condition).order_by(broadcasts.c.id.desc())
        summaries = []
        for row in (await self.connection.execute(query.limit(limit))).all():
            values: dict[str, Any] = {name: getattr(row, name) for name in stored}
            # SQLite returns naive datetimes: they are UTC.
            values.update({name: as_utc(values[name]) for name in ("created_at", "send_at", "finished_at")})
            summaries.append(BroadcastSummary(**values, counts=await self.counts(int(row.id))))
        return summaries

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        """Deliveries by status; failed deliveries to people who blocked the bot count as ``blocked``.

        Counted from the (broadcast, status) index alone, and only failed rows are read: the
        progress bar asks every second, and on SQLite a reader holds the write lock meanwhile.
        """
        rows = await self.connection.execute(
            select(deliveries.c.status, func.count())
            .where(deliveries.c.broadcast_id == broadcast_id)
            .group_by(deliveries.c.status)
        )
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        counts.update({str(name): int(count) for name, count in rows})
        if counts[FAILED]:
            blocked = await self.connection.scalar(
                select(func.count()).where(
                    deliveries.c.broadcast_id == broadcast_id,
                    deliveries.c.status == FAILED,
                    deliveries.c.error == BLOCKED,
                )
            )
            counts[BLOCKED] = int(blocked or 0)
            counts[FAILED] -= counts[BLOCKED]
        return counts

    async def latest_received(self, contact_id: int, since: datetime) -> int | None:
        """The broadcast most recently delivered to a contact after ``since`` (``unknown`` counts: it may have arrived)."""
        since = _stored(since)
        recent = [
            int(broadcast_id)
            for broadcast_id in await self.connection.scalars(
                select(broadcasts.c.id).where(
                    broadcasts.c.status.in_([SENDING, DONE, CANCELLED]),
                    or_(broadcasts.c.finished_at.is_(None), broadcasts.c.finished_at >= since),
                )
            )
        ]
        if not recent:
            return None
        # (broadcast_id, contact_id) is unique and indexed: a handful of index lookups.
        delivered_at = func.coalesce(deliveries.c.sent_at, deliveries.c.claimed_at)
        found = await self.connection.scalar(
            select(deliveries.c.broadcast_id)
            .where(
                deliveries.c.broadcast_id.in_(recent),
                deliveries.c.contact_id == contact_id,
                deliveries.c.status.in_([SENT, UNKNOWN]),
                delivered_at >= since,
            )
            .order_by(delivered_at.desc())
            .limit(1)
        )
        return None if found is None else int(found)

    # ------------------------------------------------------------------ staff actions

    async def resend_unknown(self, broadcast_id: int) -> int:
        """Queue the ``unknown`` rows again (the people may then get the notice twice)."""
        result = await self.connection.execute(
            update(deliveries)
            .where(deliveries.c.broadcast_id == broadcast_id, deliveries.c.status == UNKNOWN)
            .values(status=PENDING, error="resent after unknown")
        )
        if result.rowcount:
            await self.connection.execute(
                update(broadcasts)
                .where(broadcasts.c.id == broadcast_id, broadcasts.c.status == DONE)
                .values(status=SENDING, finished_at=None)
            )
        return int(result.rowcount)

    async def cancel(self, broadcast_id: int, now: datetime) -> int | None:
        """Stop a broadcast: its pending rows are cancelled (rows in flight finish). None if unknown."""
        result = await self.connection.execute(
            update(broadcasts)
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.status.in_([DRAFT, SCHEDULED, SENDING, DONE]))
            .values(status=CANCELLED, finished_at=_stored(now))
        )
        if not result.rowcount:
            return None
        cancelled = await self.connection.execute(
            update(deliveries)
            .where(deliveries.c.broadcast_id == broadcast_id, deliveries.c.status == PENDING)
            .values(status=CANCELLED)
        )
        return int(cancelled.rowcount)

    # ------------------------------------------------------------------ the durable sender

    async def pending(self) -> int:
        """How many deliveries wait to be sent, of every broadcast."""
        return await lifecycle.count_pending(self.connection, deliveries)

    async def recover_in_flight(self, gone: Callable[[str], Awaitable[bool]] | None = None) -> int:
        """At start: rows left in ``sending`` by a sender that is gone become ``unknown`` (see
        :func:`storage.deliveries.recover_in_flight`)."""
        return await lifecycle.recover_in_flight(self.connection, deliveries, IN_FLIGHT_AT_START, gone)

    async def claim(self, channels: Iterable[str], limit: int, now: datetime, *, worker: str | None = None) -> Claim:
        """Mark up to ``limit`` pending rows of due broadcasts ``sending`` (claimed by ``worker``) and return them.

        Rows of people who became unreachable since the broadcast was created are ``skipped``;
        a due broadcast with nothing left to send or in flight is ``done``.
        """
        channels = list(channels)
        stored_now = _stored(now)
        due = (
            await self.connection.execute(
                select(broadcasts.c.id, broadcasts.c.status, broadcasts.c.audience, broadcasts.c.send_at)
                .where(broadcasts.c.status.in_([SCHEDULED, SENDING]))
                .order_by(broadcasts.c.send_at, broadcasts.c.id)
            )
        ).all()
        claimed: list[ClaimedDelivery] = []
        next_due: datetime | None = None
        for broadcast in due:
            send_at = as_utc(broadcast.send_at) or stored_now
            if send_at > stored_now:
                next_due = send_at if next_due is None else min(next_due, send_at)
                continue
            if len(claimed) >= limit:
                continue
            audience = Audience.from_json(broadcast.audience)
            found = await self._claim_from(
                int(broadcast.id), audience, channels, limit - len(claimed), stored_now, worker
            )
            if found and broadcast.status == SCHEDULED:
                await self.connection.execute(
                    update(broadcasts).where(broadcasts.c.id == broadcast.id).values(status=SENDING)
                )
            if not found:
                await self._finish_if_done(int(broadcast.id), stored_now)
            claimed.extend(found)
        return Claim(claimed, next_due)

    async def _claim_from(
        self,
        broadcast_id: int,
        audience: Audience,
        channels: list[str],
        limit: int,
        now: datetime,
        worker: str | None = None,
    ) -> list[ClaimedDelivery]:
        claimed: list[ClaimedDelivery] = []
        interested = _interested(audience)
        follows = (interested if interested is not None else literal(True)).label("follows")
        query = (
            select(
                deliveries.c.id,
                deliveries.c.contact_id,
                deliveries.c.channel,
                deliveries.c.language,
                contacts.c.chat_key,
                contacts.c.consent_at,
                contacts.c.declined_at,
                contacts.c.opted_out_at,
                contacts.c.blocked_at,
                follows,
            )
            .select_from(deliveries.outerjoin(contacts, contacts.c.id == deliveries.c.contact_id))
            .where(
                deliveries.c.broadcast_id == broadcast_id,
                deliveries.c.status == PENDING,
                deliveries.c.channel.in_(channels),
            )
            .order_by(deliveries.c.id)
        )
        for _ in range(20):  # each round skips at least one row or fills the claim
            wanted = limit - len(claimed)
            if wanted <= 0:
                break
            statement = query.limit(wanted)
            if self._postgres:
                statement = statement.with_for_update(skip_locked=True, of=deliveries)
            rows = (await self.connection.execute(statement)).all()
            if not rows:
                break
            sendable: list[ClaimedDelivery] = []
            skipped: dict[str, list[int]] = {}
            for row in rows:
                reason = _unreachable_because(row, needs_consent=audience.feedback_for is None)
                if reason is None:
                    sendable.append(
                        ClaimedDelivery(
                            int(row.id), broadcast_id, int(row.contact_id), row.channel, str(row.chat_key), row.language
                        )
                    )
                else:
                    skipped.setdefault(reason, []).append(int(row.id))
            await lifecycle.mark_claimed(self.connection, deliveries, [item.id for item in sendable], now, worker)
            for reason, ids in skipped.items():
                await self.connection.execute(
                    update(deliveries).where(deliveries.c.id.in_(ids)).values(status=SKIPPED, error=reason)
                )
            claimed.extend(sendable)
            if len(rows) < wanted:
                break
        return claimed

    async def _finish_if_done(self, broadcast_id: int, now: datetime) -> None:
        outstanding = exists().where(
            deliveries.c.broadcast_id == broadcast_id, deliveries.c.status.in_([PENDING, SENDING])
        )
        await self.connection.execute(
            update(broadcasts)
            .where(broadcasts.c.id == broadcast_id, broadcasts.c.status.in_([SCHEDULED, SENDING]), ~outstanding)
            .values(status=DONE, finished_at=now)
        )

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Store the outcomes of sends (one statement for all of them)."""
        await lifecycle.record_outcomes(self.connection, deliveries, outcomes, now)


def _unreachable_because(row: Any, *, needs_consent: bool = True) -> str | None:
    """Why a claimed row is not sent, or None. A "you said, we did" notice (``needs_consent``
    False) goes on the respondent's own opt-in, checked as ``row.follows``, not the register's consent."""
    if row.contact_id is None or row.chat_key is None:
        return "contact deleted"
    consent, declined = as_utc(row.consent_at), as_utc(row.declined_at)
    if needs_consent and (consent is None or (declined is not None and declined >= consent)):
        return "no consent"
    if row.opted_out_at is not None:
        return "opted out"
    if row.blocked_at is not None:
        return BLOCKED
    if not row.follows:
        return "unsubscribed"
    return None
