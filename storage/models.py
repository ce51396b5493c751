"""SQLAlchemy tables. Only modules inside ``storage/`` use these classes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class ContactRow(Base):
    """One person on one channel."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_contacts_channel_user"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_key: Mapped[str] = mapped_column(String(100))
    chat_key: Mapped[str] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(20))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The register, filled by onboarding and /profile once the person has consented.
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_group: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(80))
    organisation: Mapped[str | None] = mapped_column(String(200))
    # /stop: no messages the person did not ask for. Blocked: the platform says the bot is blocked.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Phone channels (WhatsApp, SMS, USSD): the number in E.164, the one key of a person across
    # them; contacts with the same phone key are the same person (storage/linked_contacts.py).
    phone_key: Mapped[str | None] = mapped_column(String(20), index=True)


class SmsMenuRow(Base):
    """The choices last sent to an SMS chat: what a reply ("2", "skip") presses (storage/sms_menus.py)."""

    __tablename__ = "sms_menus"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    payloads: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConversationRow(Base):
    """Where a contact is in a flow; at most one per contact."""

    __tablename__ = "conversations"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(20))
    survey_id: Mapped[str | None] = mapped_column(String(40))
    response_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    current_question: Mapped[str | None] = mapped_column(String(200))
    selection: Mapped[str] = mapped_column(Text, default="")
    prompt_serial: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResponseRow(Base):
    """One attempt at a survey by one respondent, complete or not."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_survey_started", "survey_id", "started_at", "id"),
        Index("ix_responses_contact_survey", "contact_id", "survey_id"),
        Index("ix_responses_survey_completed", "survey_id", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(40))
    survey_version: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    respondent: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[int | None] = mapped_column(Integer)
    #: The person's quota cell was full (:mod:`storage.quotas`): thanked, and the response ended.
    screened_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The split-sample experiment arm the respondent was shown (None: the survey has no experiment).
    arm: Mapped[str | None] = mapped_column(String(40))


class AnswerRow(Base):
    """One answer to one question of a response; ``value`` is None for a skipped question."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question", name="uq_answers_response_question"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(200))
    value: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ParticipationRow(Base):
    """How often a contact completed a survey, kept apart from the responses so that anonymous
    surveys can limit repeat answers without linking a response to a person."""

    __tablename__ = "participations"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    last_completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResultsOptInRow(Base):
    """A respondent's answer, at the end of a survey, to "do you want to hear what the office does
    with the results?" ("you said, we did"). One row per survey and contact (the latest answer);
    ``response_id`` names the response it followed, None for an anonymous survey (the response is
    not linked to the person)."""

    __tablename__ = "results_optins"

    survey_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    response_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id", ondelete="SET NULL"))
    wants: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SubscriptionRow(Base):
    """A contact follows a topic (release notices about it)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_topic", "topic", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscribed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BroadcastRow(Base):
    """A release notice or survey invitation to many contacts.

    ``notice`` is the notice as JSON (texts per language, buttons, attachment); ``audience`` the
    filter it was sent with. Status: scheduled → sending → done (or cancelled).
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    notice: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class DeliveryRow(Base):
    """One recipient of one broadcast: pending → sending → sent / failed / unknown (crash mid-send)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "contact_id", name="uq_deliveries_broadcast_contact"),
        Index("ix_deliveries_broadcast_status", "broadcast_id", "status", "id"),
        Index("ix_deliveries_message_key", "message_key"),  # receipts find their delivery by it
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))
    chat_key: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_key: Mapped[str | None] = mapped_column(String(100))
    #: The worker that claimed the row while it is ``sending`` (see :mod:`storage.workers`).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    # Receipts from channels that report them (WhatsApp status webhooks).
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeedbackRow(Base):
    """A message from a user that is not an answer: a reply to a notice, a comment."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="new")


class ProcessedUpdateRow(Base):
    """A delivery already handled, so that a redelivered update is not applied twice."""

    __tablename__ = "processed_updates"
    # A late copy of an update is answered only if nothing newer of its chat was handled since.
    __table_args__ = (Index("ix_processed_updates_chat", "channel", "chat_key", "processed_at"),)

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    chat_key: Mapped[str | None] = mapped_column(String(100))


class InstanceSettingRow(Base):
    """Values created once per installation, such as the pseudonym key."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SendRateBucketRow(Base):
    """A token bucket of the sending rate shared by several worker processes on PostgreSQL
    (without Redis): ``tokens`` as of ``updated_at``, in seconds of the database's clock."""

    __tablename__ = "send_rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, index=True)


class SendRateLeaseRow(Base):
    """A worker process's lease of a share of one send rate (PostgreSQL without Redis): it may
    send ``allowance`` messages a second while the lease is live, i.e. renewed (``renewed_at``,
    seconds of the database's clock) within the expiry (see :mod:`storage.rate_leases`)."""

    __tablename__ = "send_rate_leases"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    allowance: Mapped[float] = mapped_column(Float)
    renewed_at: Mapped[float] = mapped_column(Float)
    #: Whether the worker keeps this scope's per-chat buckets to itself (it is the only one).
    local_chats: Mapped[bool] = mapped_column(Boolean)


class SendRatePauseRow(Base):
    """A pause every worker keeps (a Telegram ``retry_after``): nothing of the bot ``key`` is sent
    before ``until`` (seconds of the database's clock; PostgreSQL without Redis)."""

    __tablename__ = "send_rate_pauses"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    until: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- indicators (SDMX data)


class IndicatorLoadRow(Base):
    """One load of the indicator catalogue. Exactly one load is ``active`` at a time: a new
    load is written beside it (``loading``) and switched in by one UPDATE, so the bot never
    answers from half-loaded data; ``failed`` loads keep their error and no data."""

    __tablename__ = "indicator_loads"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    indicators: Mapped[int] = mapped_column(Integer, default=0)
    series: Mapped[int] = mapped_column(Integer, default=0)
    observations: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class IndicatorRow(Base):
    """An indicator's metadata (names, synonyms, unit, decimals, release...) as JSON."""

    __tablename__ = "indicators"

    load_id: Mapped[int] = mapped_column(ForeignKey("indicator_loads.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    topic: Mapped[str | None] = mapped_column(String(40))
    metadata_json: Mapped[str] = mapped_column(Text)


class IndicatorSeriesRow(Base):
    """One series of an indicator: one combination of dimension values (region, sex, age...)."""

    __tablename__ = "indicator_series"
    __table_args__ = (Index("ix_indicator_series_load_indicator", "load_id", "indicator_code"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("indicator_loads.id", ondelete="CASCADE"))
    indicator_code: Mapped[str] = mapped_column(String(80))
    series_key: Mapped[str] = mapped_column(String(400))
    dimensions_json: Mapped[str] = mapped_column(Text)
    attributes_json: Mapped[str] = mapped_column(Text, default="{}")


class IndicatorObservationRow(Base):
    """One observation of a series. ``series_id`` has no foreign key on purpose: only the loader
    writes and deletes these rows (observations before their series), and a per-row foreign-key
    check made a bulk load of millions of observations four times slower on PostgreSQL."""

    __tablename__ = "indicator_observations"

    series_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    time_period: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(10))


class IndicatorQueryRow(Base):
    """Every lookup asked by chat, matched or not: the evidence of (unmet) demand."""

    __tablename__ = "indicator_queries"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    language: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    indicator_code: Mapped[str | None] = mapped_column(String(80))
    matched: Mapped[int] = mapped_column(Integer, default=0)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IndicatorRatingRow(Base):
    """ "Was this useful?" on an indicator reply: one rating per person and series (the last one)."""

    __tablename__ = "indicator_ratings"
    __table_args__ = (UniqueConstraint("contact_id", "indicator_code", "series_key", name="uq_indicator_ratings"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    indicator_code: Mapped[str] = mapped_column(String(80))
    series_key: Mapped[str] = mapped_column(String(400))
    useful: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------- data requests


class DataRequestRow(Base):
    """A ticket: a user's request for data the office does not (visibly) publish.

    ``status``: open → in_progress → answered → closed. The id is the ticket number users see.
    """

    __tablename__ = "data_requests"
    __table_args__ = (Index("ix_data_requests_answered", "answered_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20))
    user_group: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DataRequestMessageRow(Base):
    """The conversation on one ticket: the user's words and the staff's answers, in order."""

    __tablename__ = "data_request_messages"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_requests.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(10))
    staff: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxRow(Base):
    """A message to one person that is not a reply to their own message (a staff answer to a
    ticket, a release the person follows): stored first, then sent by the dispatcher in
    ``baraza run``, with the same ``pending → sending → sent / failed / unknown`` life as a
    broadcast delivery. ``body`` is the message as JSON."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_key: Mapped[str | None] = mapped_column(String(100))
    #: The worker that claimed the row while it is ``sending`` (see :mod:`storage.workers`).
    claimed_by: Mapped[str | None] = mapped_column(String(100))


# --------------------------------------------------------------------------- release calendar


class ReleaseFollowRow(Base):
    """A person follows a calendar entry: told when it is published (``notified_at``)."""

    __tablename__ = "release_follows"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    release_id: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    followed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReleasePublicationRow(Base):
    """A calendar entry marked published, once: followers and topic subscribers are notified
    (``broadcast_id``) exactly once however often staff run the command."""

    __tablename__ = "release_publications"

    release_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(100))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))


# --------------------------------------------------------------------------- staff dashboard


class StaffAccountRow(Base):
    """A member of staff who may sign in to the dashboard (``/admin``).

    ``role``: ``viewer`` (reads) or ``editor`` (also answers requests and sends broadcasts).
    ``failed_attempts`` counts wrong passwords since the last success; ``locked_until`` is set
    when there were too many.
    """

    __tablename__ = "staff_accounts"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffSessionRow(Base):
    """A signed-in browser: the cookie holds a secret token, the row a hash of it (a stolen
    database does not give sessions away); ``csrf_token`` goes into every form of the session."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("staff_accounts.username", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# --------------------------------------------------------------------------- audit trail


class AuditEventRow(Base):
    """One staff action (signing in, a broadcast, an answer, an export...): see :mod:`storage.audit`.

    Append-only: triggers made by migration 0007 refuse UPDATE and DELETE (and TRUNCATE on
    PostgreSQL). ``actor`` is a staff account name or ``cli:<os user>``; ``details`` is a JSON
    object of short strings, never a citizen's personal data (ids and pseudonyms only).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)


class InvitationRow(Base):
    """A contact invited to a survey (:mod:`storage.invitations`): one per survey, wave and contact.

    The invitation notice itself is a broadcast (``broadcast_id``) sent by the durable sender.
    ``arm`` and ``quota_cell`` are kept for split-sample experiments and quotas.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("survey_id", "wave", "contact_id", name="uq_invitations_survey_wave_contact"),
        Index("ix_invitations_survey_invited", "survey_id", "invited_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(String(40))
    wave: Mapped[int] = mapped_column(Integer, default=1)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))
    user_group: Mapped[str | None] = mapped_column(String(40))
    stratum: Mapped[str | None] = mapped_column(String(200))
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))
    arm: Mapped[str | None] = mapped_column(String(40))
    quota_cell: Mapped[str | None] = mapped_column(String(200))


class ResponseQuotaCellRow(Base):
    """A response's cell of one quota of its survey (:mod:`storage.quotas`), recorded once known."""

    __tablename__ = "response_quota_cells"
    __table_args__ = (Index("ix_response_quota_cells_survey", "survey_id", "quota", "cell"),)

    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    quota: Mapped[str] = mapped_column(String(200), primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(40))
    #: The cell's values as a JSON list (``["media", "female"]``).
    cell: Mapped[str] = mapped_column(String(400))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InvitationReminderRow(Base):
    """Reminder ``reminder`` (1, 2, ...) of an invitation, queued once as a row of a broadcast."""

    __tablename__ = "invitation_reminders"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True)
    reminder: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebPushSubscriptionRow(Base):
    """A browser's Web Push subscription for a web-chat contact (the page asked for notifications).

    ``endpoint`` is the push service's URL for that browser; ``p256dh`` and ``auth`` are the keys
    a message is encrypted with (RFC 8291). A contact may have several browsers."""

    __tablename__ = "webpush_subscriptions"

    endpoint: Mapped[str] = mapped_column(String(1000), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebNoticeReadRow(Base):
    """Until when a web-chat contact without notifications has seen the notices (shown when the page
    resumes: the notices sent since then that were meant for them)."""

    __tablename__ = "web_notice_reads"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResultsPublicationRow(Base):
    """A survey's results as published (``/results/SURVEY``): the report's JSON snapshot as of
    publication, until withdrawn or replaced by a later publication."""

    __tablename__ = "results_publications"
    __table_args__ = (Index("ix_results_publications_survey", "survey_id", "published_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    survey_id: Mapped[str] = mapped_column(String(40))
    survey_version: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(120))
    data_as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respondents: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(120))


# --------------------------------------------------------------------------- USSD sessions


class UssdSessionRow(Base):
    """The last USSD screen shown to one phone number (E.164), and the session that showed it:
    what a number typed in that session means ("3": the third item of the screen's page)."""

    __tablename__ = "ussd_sessions"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100))
    inputs: Mapped[int] = mapped_column(Integer)
    screen: Mapped[str] = mapped_column(Text)
    page: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
