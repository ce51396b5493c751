"""Repositories: the queries Baraza needs, taking and returning domain values.

All methods run inside the caller's transaction (:meth:`storage.database.Database.transaction`);
none commits by itself, so one inbound message changes everything or nothing. They use
SQLAlchemy Core on the connection: each inbound message costs a handful of statements, and
the ORM's unit of work would only add overhead on this hot path.

The statements of every survey step are built once, with bound parameters, and run on the
database driver itself (:mod:`storage.driver_sql`): building ``insert(...).values(...)`` anew
for every call, then executing it through SQLAlchemy, cost several times more CPU than the
statement itself. The statements used less often keep the plain Core style.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    Table,
    Text,
    bindparam,
    column,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.driver_sql import DriverStatement, EachRow, HeldRows, JsonRows, Upsert, held_rows, holding_rows
from storage.errors import StorageError
from storage.indicators import IndicatorRepository
from storage.linked_contacts import (
    link_new_contact,
    linked_clause,
    linked_ids_for_update,
    phone_key_of,
    share_with_linked,
)
from storage.lookups import LookupRepository
from storage.models import (
    AnswerRow,
    ContactRow,
    ConversationRow,
    DeliveryRow,
    FeedbackRow,
    InstanceSettingRow,
    ParticipationRow,
    ProcessedUpdateRow,
    ResponseRow,
    SubscriptionRow,
)
from storage.outbox_messages import OutboxRepository
from storage.records import Contact, Conversation, Erasure, ResponseSummary
from storage.releases import ReleaseRepository
from storage.repository_base import Repository
from storage.requests import RequestRepository
from storage.results import ResultsRepository
from storage.ussd_sessions import USSD_CHANNEL, UssdSessionRepository
from storage.webpush import WebPushRepository

contacts = cast(Table, ContactRow.__table__)
conversations = cast(Table, ConversationRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
processed_updates = cast(Table, ProcessedUpdateRow.__table__)
instance_settings = cast(Table, InstanceSettingRow.__table__)
participations = cast(Table, ParticipationRow.__table__)
subscriptions = cast(Table, SubscriptionRow.__table__)
feedback = cast(Table, FeedbackRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)


def utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything Baraza stores is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert(connection: AsyncConnection, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


#: The register fields a person fills in (onboarding, /profile), with their column widths.
REGISTER_FIELDS = {"user_group": 40, "region": 80, "organisation": 200}
_CONTACT_COLUMNS = (
    contacts.c.id,
    contacts.c.language,
    contacts.c.user_group,
    contacts.c.region,
    contacts.c.organisation,
    contacts.c.consent_at,
    contacts.c.declined_at,
    contacts.c.opted_out_at,
    contacts.c.blocked_at,
    contacts.c.first_seen_at,
)
#: The columns a conversation's upsert writes besides its key.
_CONVERSATION_FIELDS = (
    "flow",
    "survey_id",
    "response_id",
    "current_question",
    "selection",
    "prompt_serial",
    "updated_at",
)


# --- The statements of every survey step, built once (see the module's docstring) -------------


def _claim(insert: Upsert, processed_at: str = "now") -> Any:
    return (
        insert(processed_updates)
        .values(
            channel=bindparam("channel"),
            update_key=bindparam("update_key"),
            processed_at=bindparam(processed_at),
            chat_key=bindparam("chat_key"),
        )
        .on_conflict_do_nothing()
        .returning(processed_updates.c.update_key)
    )


def _upsert(
    insert: Upsert, table: Table, keys: Sequence[str], values: Mapping[str, Any], replace: Sequence[str], **fixed: Any
) -> Any:
    """INSERT ``values`` into ``table``; when a row with the same ``keys`` exists, its columns
    ``replace`` take the new values and its columns ``fixed`` the values given."""
    statement = insert(table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={**{name: statement.excluded[name] for name in replace}, **fixed}
    )


def _bound(*names: str, **parameters: Any) -> dict[str, Any]:
    """Column values for an INSERT: each of ``names`` from the parameter of the same name, the
    others from the parameter (or value) given."""
    return {**{name: bindparam(name) for name in names}, **parameters}


def _touch(insert: Upsert) -> Any:
    now: Any = bindparam("now")
    values = _bound("channel", "user_key", "chat_key", "language", first_seen_at=now, last_seen_at=now)
    # A person who writes has not blocked the bot (any more): they can be reached again.
    statement = _upsert(
        insert, contacts, ("channel", "user_key"), values, ("last_seen_at", "chat_key"), blocked_at=None
    )
    return statement.returning(*_CONTACT_COLUMNS)


def _claim_and_touch() -> Any:
    """PostgreSQL: :func:`_claim` (its time bound as ``processed_at``) and :func:`_touch` in one
    statement, one round trip: the contact's columns, then whether the update was claimed now.
    Both inserts run once whatever the SELECT reads (data-modifying CTEs)."""
    claimed = _claim(postgresql.insert, "processed_at").cte("claimed")
    touched = _touch(postgresql.insert).cte("touched")
    return select(*touched.c, exists(select(claimed.c.update_key)).label("first_delivery"))


def _save_conversation(insert: Upsert) -> Any:
    values = _bound("contact_id", *_CONVERSATION_FIELDS)
    return _upsert(insert, conversations, ("contact_id",), values, _CONVERSATION_FIELDS)


def _record_answer(insert: Upsert) -> Any:
    values = _bound("response_id", "question", "value", answered_at=bindparam("now"))
    return _upsert(insert, answers, ("response_id", "question"), values, ("value", "answered_at"))


def _record_completion(insert: Upsert, contact_id: str = "contact_id", survey_id: str = "survey_id") -> Any:
    """The completion of the survey by the contact counted: their ids in the parameters named ``contact_id``, ``survey_id``."""
    values = {
        "contact_id": bindparam(contact_id),
        "survey_id": bindparam(survey_id),
        "completed": 1,
        "last_completed_at": bindparam("now"),
    }
    replace = ("last_completed_at",)
    completed = participations.c.completed + 1
    return _upsert(insert, participations, ("contact_id", "survey_id"), values, replace, completed=completed)


_CLAIM = DriverStatement.upsert(_claim)
_TOUCH = DriverStatement.upsert(_touch)
_CLAIM_AND_TOUCH = DriverStatement(_claim_and_touch())  # PostgreSQL only (SQLite has no INSERT in WITH)
_SAVE_CONVERSATION = DriverStatement.upsert(_save_conversation)
_RECORD_ANSWER = DriverStatement.upsert(_record_answer)
# PostgreSQL only (SQLite has no INSERT in WITH): :data:`_RECORD_ANSWER` and
# :data:`_SAVE_CONVERSATION` in one statement, one round trip (both run: data-modifying CTE).
_RECORD_ANSWER_AND_SAVE = DriverStatement(
    _save_conversation(postgresql.insert).add_cte(_record_answer(postgresql.insert).cte("recorded"))
)
_RECORD_COMPLETION = DriverStatement.upsert(_record_completion)
# PostgreSQL only: :data:`_RECORD_ANSWER_AND_SAVE` for the survey steps of several contacts (a
# group commit's updates), one row each (question NULL: no answer), after the responses those
# steps began (:data:`_CREATE_RESPONSE`, one row each), all in one statement. Every part runs
# (data-modifying CTEs) and the foreign keys are checked when the statement ends, so a step may
# name a response created in the same statement.
_RECORD_ANSWERS_AND_SAVE_MANY_SQL = """
WITH created AS (
    INSERT INTO responses (id, survey_id, survey_version, contact_id, respondent, channel, language, started_at,
        completed_at, arm)
    SELECT id, survey_id, survey_version, contact_id, respondent, channel, language, started_at, NULL, arm
    FROM unnest(
        CAST(:new_ids AS text[]), CAST(:new_survey_ids AS text[]), CAST(:new_versions AS text[]),
        CAST(:new_contact_ids AS bigint[]), CAST(:new_respondents AS text[]), CAST(:new_channels AS text[]),
        CAST(:new_languages AS text[]), CAST(:new_started AS timestamptz[]), CAST(:new_arms AS text[])
    ) WITH ORDINALITY AS started(id, survey_id, survey_version, contact_id, respondent, channel, language,
        started_at, arm, position)
    ORDER BY position
), given AS (
    SELECT * FROM unnest(
        CAST(:contact_ids AS bigint[]), CAST(:flows AS text[]), CAST(:survey_ids AS text[]),
        CAST(:response_ids AS text[]), CAST(:current_questions AS text[]), CAST(:selections AS text[]),
        CAST(:prompt_serials AS integer[]), CAST(:nows AS timestamptz[]), CAST(:questions AS text[]),
        CAST(:answer_values AS text[])
    ) WITH ORDINALITY AS step(contact_id, flow, survey_id, response_id, current_question, selection,
        prompt_serial, now, question, value, position)
), recorded AS (
    INSERT INTO answers (response_id, question, value, answered_at)
    SELECT response_id, question, value, now FROM given WHERE question IS NOT NULL ORDER BY position
    ON CONFLICT (response_id, question) DO UPDATE SET value = excluded.value, answered_at = excluded.answered_at
)
INSERT INTO conversations (contact_id, flow, survey_id, response_id, current_question, selection, prompt_serial,
    updated_at)
SELECT contact_id, flow, survey_id, response_id, current_question, selection, prompt_serial, now
FROM given ORDER BY position
ON CONFLICT (contact_id) DO UPDATE SET flow = excluded.flow, survey_id = excluded.survey_id,
    response_id = excluded.response_id, current_question = excluded.current_question,
    selection = excluded.selection, prompt_serial = excluded.prompt_serial, updated_at = excluded.updated_at
"""
_SAVED_MANY = ("contact_id", "flow", "survey_id", "response_id", "current_question", "selection", "prompt_serial")
#: The columns of a response created by a held survey step (:meth:`ResponseRepository.create`),
#: as the statement's array parameters name them.
_CREATED_MANY = {
    "id": "new_ids",
    "survey_id": "new_survey_ids",
    "survey_version": "new_versions",
    "contact_id": "new_contact_ids",
    "respondent": "new_respondents",
    "channel": "new_channels",
    "language": "new_languages",
    "started_at": "new_started",
    "arm": "new_arms",
}
#: Marks a held row as a created response (the others are saved steps).
_NEW_RESPONSE = "new_response"


def _record_answers_and_save_many() -> Any:
    assert (*_SAVED_MANY[1:], "updated_at") == _CONVERSATION_FIELDS, "the statement names the fields in full"
    texts = ("flows", "survey_ids", "response_ids", "current_questions", "selections", "questions", "answer_values")
    new_texts = [name for column, name in _CREATED_MANY.items() if column not in ("contact_id", "started_at")]
    return (
        text(_RECORD_ANSWERS_AND_SAVE_MANY_SQL)
        .bindparams(
            bindparam("contact_ids", type_=ARRAY(BigInteger)),
            *(bindparam(name, type_=ARRAY(Text)) for name in texts),
            bindparam("prompt_serials", type_=ARRAY(Integer)),
            bindparam("nows", type_=ARRAY(DateTime(timezone=True))),
            *(bindparam(name, type_=ARRAY(Text)) for name in new_texts),
            bindparam("new_contact_ids", type_=ARRAY(BigInteger)),
            bindparam("new_started", type_=ARRAY(DateTime(timezone=True))),
        )
        .columns()
    )  # returns no rows


_RECORD_ANSWERS_AND_SAVE_MANY = DriverStatement(_record_answers_and_save_many())


def _saves_as_arrays(rows: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The parameters of :data:`_RECORD_ANSWERS_AND_SAVE_MANY` for the held rows: saved steps and
    created responses."""
    created = [row for row in rows if _NEW_RESPONSE in row]
    saved = [row for row in rows if _NEW_RESPONSE not in row]
    arrays = {f"{name}s": [row[name] for row in saved] for name in _SAVED_MANY}
    arrays |= {name: [row[column] for row in created] for column, name in _CREATED_MANY.items()}
    return arrays | {
        "nows": [row["updated_at"] for row in saved],
        "questions": [row.get("question") for row in saved],
        "answer_values": [row.get("value") for row in saved],
    }


def _saves_by_statement(rows: list[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The parameters of :data:`_SAVE_STEPS_EACH` for the held rows: the created responses, the
    answers recorded, the conversations saved."""
    created = [row for row in rows if _NEW_RESPONSE in row]
    saved = [row for row in rows if _NEW_RESPONSE not in row]
    return [created, [row for row in saved if "question" in row], saved]


# The keys rows are held under in survey_steps_together (see storage.driver_sql.HeldRows): what a
# held row changes, and what a statement that may run before it reads or changes.


def _conversation_key(contact_id: int) -> tuple[str, int]:
    """The key of one contact's conversation."""
    return ("conversation", contact_id)


def _answer_key(response_id: str | None, question: str) -> tuple[str, str | None, str]:
    """The key of one answer of a response."""
    return ("answer", response_id, question)


def _responses_key(contact_id: int | None) -> tuple[str, int | None]:
    """The key of the responses of one contact (None: the anonymous ones)."""
    return ("responses of", contact_id)


def _response_key(response_id: str) -> tuple[str, str]:
    """The key of one response (an anonymous one has no contact)."""
    return ("response", response_id)


@contextlib.asynccontextmanager
async def survey_steps_together(connection: AsyncConnection) -> AsyncIterator[None]:
    """For the block (one transaction of several updates, PostgreSQL), each survey step's save
    (:meth:`ConversationRepository.save` of the conversation and at most one answer) and each
    response a step begins (:meth:`ResponseRepository.create`) is held back and written with the
    others in one statement: before the connection's next statement of another kind, or when the
    block ends. A survey's start (:meth:`ResponseRepository.latest_and_completed`) and end
    (:meth:`ResponseRepository.finish`) let the rows of other contacts stay held: they touch only
    their own contact's. Every update's statements and what they read are those of writing each
    row at once (see :class:`storage.driver_sql.HeldRows`). On SQLite (no INSERT inside WITH) the
    held rows are written by three statements, each run over its rows at once (``executemany``)."""
    if connection.dialect.name != "postgresql":
        held = HeldRows(_SAVE_STEPS_EACH, _saves_by_statement)
    else:
        held = HeldRows(_RECORD_ANSWERS_AND_SAVE_MANY, _saves_as_arrays)
    async with holding_rows(connection, held):
        yield


# The conversation with its response's answers in one query: a survey step needs both. One row
# per answer (question NULL when there is none yet, or no response).
_CONVERSATION_COLUMNS = (
    conversations.c.flow,  # never NULL in a stored conversation
    conversations.c.survey_id,
    conversations.c.response_id,
    conversations.c.current_question,
    conversations.c.selection,
    conversations.c.prompt_serial,
    responses.c.arm,
    answers.c.question,
    answers.c.value,
)


def _with_answers(joined: Any) -> Any:
    """``joined`` (holding ``conversations``) outer-joined with the conversation's response and its answers."""
    return joined.outerjoin(responses, responses.c.id == conversations.c.response_id).outerjoin(
        answers, answers.c.response_id == conversations.c.response_id
    )


_CONVERSATION_WITH_ANSWERS = DriverStatement(
    select(*_CONVERSATION_COLUMNS)
    .select_from(_with_answers(conversations))
    .where(conversations.c.contact_id == bindparam("contact_id"))
)


def _claim_touch_and_read() -> Any:
    """PostgreSQL: :func:`_claim_and_touch` and the touched contact's conversation with its
    answers (:data:`_CONVERSATION_WITH_ANSWERS`) in one statement: one row per answer, the
    conversation's columns NULL when there is none. The conversation is read as it was when the
    statement began: the chat's lock, taken before, already orders it after the chat's earlier updates."""
    claimed = _claim(postgresql.insert, "processed_at").cte("claimed")
    touched = _touch(postgresql.insert).cte("touched")
    return select(
        *touched.c, exists(select(claimed.c.update_key)).label("first_delivery"), *_CONVERSATION_COLUMNS
    ).select_from(_with_answers(touched.outerjoin(conversations, conversations.c.contact_id == touched.c.id)))


_CLAIM_TOUCH_AND_READ = DriverStatement(_claim_touch_and_read())  # PostgreSQL only, as _CLAIM_AND_TOUCH


_MANY_CONTACT_COLUMNS = (
    "id",
    "language",
    "user_group",
    "region",
    "organisation",
    "consent_at",
    "declined_at",
    "opted_out_at",
    "blocked_at",
    "first_seen_at",
)
# Written out (no SQL built from strings); the unnested arrays keep the given order (ORDINALITY).
_CLAIM_TOUCH_AND_READ_MANY_SQL = """
WITH input AS (
    SELECT * FROM unnest(
        CAST(:channels AS text[]), CAST(:update_keys AS text[]), CAST(:user_keys AS text[]),
        CAST(:chat_keys AS text[]), CAST(:languages AS text[]), CAST(:processed_ats AS timestamptz[]),
        CAST(:nows AS timestamptz[])
    ) WITH ORDINALITY AS given(channel, update_key, user_key, chat_key, language, processed_at, now, position)
), claimed AS (
    INSERT INTO processed_updates (channel, update_key, processed_at, chat_key)
    SELECT channel, update_key, processed_at, chat_key FROM input ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING channel, update_key
), touched AS (
    INSERT INTO contacts (channel, user_key, chat_key, language, first_seen_at, last_seen_at)
    SELECT channel, user_key, chat_key, language, now, now FROM input ORDER BY position
    ON CONFLICT (channel, user_key) DO UPDATE
    SET last_seen_at = excluded.last_seen_at, chat_key = excluded.chat_key, blocked_at = NULL
    RETURNING id, language, user_group, region, organisation, consent_at, declined_at, opted_out_at, blocked_at,
        first_seen_at, channel, user_key
)
SELECT input.position, touched.id, touched.language, touched.user_group, touched.region, touched.organisation,
    touched.consent_at, touched.declined_at, touched.opted_out_at, touched.blocked_at, touched.first_seen_at,
    EXISTS (SELECT 1 FROM claimed WHERE claimed.channel = input.channel AND claimed.update_key = input.update_key)
        AS first_delivery,
    conversations.flow, conversations.survey_id, conversations.response_id, conversations.current_question,
    conversations.selection, conversations.prompt_serial, responses.arm, answered.questions, answered.answer_values
FROM input
JOIN touched ON touched.channel = input.channel AND touched.user_key = input.user_key
LEFT OUTER JOIN conversations ON conversations.contact_id = touched.id
LEFT OUTER JOIN responses ON responses.id = conversations.response_id
LEFT OUTER JOIN LATERAL (
    SELECT array_agg(answers.question) AS questions, array_agg(answers.value) AS answer_values
    FROM answers WHERE answers.response_id = conversations.response_id
) AS answered ON true
ORDER BY input.position
"""


def _claim_touch_and_read_many() -> Any:
    """PostgreSQL: :func:`_claim_touch_and_read` for the updates of several chats in one
    statement (a group commit's batch): the input arrays unnested in order, the same two inserts
    over all of them, then one row per update (``position``, from 1): the touched contact's
    columns, whether the update was claimed now, its conversation's columns and its response's
    answers as two arrays (questions, values; NULL when none), which cost less to send and decode
    than a row per answer. The users must differ: ON CONFLICT DO UPDATE may touch a contact once
    per statement."""
    names = tuple(c.name for c in _CONTACT_COLUMNS)
    assert names == _MANY_CONTACT_COLUMNS, "the batch's statement names the contact's columns in full"
    timestamps = ARRAY(DateTime(timezone=True))
    return (
        text(_CLAIM_TOUCH_AND_READ_MANY_SQL)
        .bindparams(
            *(bindparam(name, type_=ARRAY(Text)) for name in ("channels", "update_keys", "user_keys", "chat_keys")),
            bindparam("languages", type_=ARRAY(Text)),
            bindparam("processed_ats", type_=timestamps),
            bindparam("nows", type_=timestamps),
        )
        .columns(
            column("position", BigInteger),
            *(column(c.name, c.type) for c in _CONTACT_COLUMNS),
            column("first_delivery", Boolean),
            *(column(f"{c.table.name}_{c.name}", c.type) for c in _CONVERSATION_COLUMNS[:-2]),
            column("questions", ARRAY(Text)),
            column("answer_values", ARRAY(Text)),
        )
    )


_CLAIM_TOUCH_AND_READ_MANY = DriverStatement(_claim_touch_and_read_many())  # PostgreSQL only

# SQLite has no INSERT inside WITH: the batch's claims, its touches and its conversations' reads are
# three statements, each over all the batch's updates (rows given as one JSON parameter, read with
# json_each in the order given), instead of three statements per update.
_CLAIM_MANY_SQLITE = DriverStatement(
    text(
        """
INSERT INTO processed_updates (channel, update_key, processed_at, chat_key)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(:given) WHERE true ORDER BY key
ON CONFLICT DO NOTHING
RETURNING channel, update_key
"""
    )
    .bindparams(bindparam("given", type_=JsonRows()))
    .columns(column("channel", Text), column("update_key", Text))
)
_TOUCH_MANY_SQLITE = DriverStatement(
    text(
        """
INSERT INTO contacts (channel, user_key, chat_key, language, first_seen_at, last_seen_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 4
FROM json_each(:given) WHERE true ORDER BY key
ON CONFLICT (channel, user_key) DO UPDATE
SET last_seen_at = excluded.last_seen_at, chat_key = excluded.chat_key, blocked_at = NULL
RETURNING id, language, user_group, region, organisation, consent_at, declined_at, opted_out_at, blocked_at,
    first_seen_at, channel, user_key
"""
    )
    .bindparams(bindparam("given", type_=JsonRows()))
    .columns(*(column(c.name, c.type) for c in _CONTACT_COLUMNS), column("channel", Text), column("user_key", Text))
)
# One row per answer, as _CONVERSATION_WITH_ANSWERS, for every contact named.
_CONVERSATIONS_WITH_ANSWERS_SQLITE = DriverStatement(
    select(conversations.c.contact_id, *_CONVERSATION_COLUMNS)
    .select_from(_with_answers(conversations))
    .where(
        conversations.c.contact_id.in_(
            select(column("value", BigInteger)).select_from(func.json_each(bindparam("contact_ids", type_=Text)))
        )
    )
)


@dataclass(frozen=True)
class Arrival:
    """One update of a batch to claim and its contact to touch (:meth:`ContactRepository.claim_and_touch_many`)."""

    channel: str
    update_key: str
    processed_at: datetime
    user_key: str
    chat_key: str
    language: str | None
    now: datetime


@dataclass(frozen=True)
class Claimed:
    """What :meth:`ContactRepository.claim_and_touch_many` read for one update: the touched
    contact's row, whether the update was claimed now, and its conversation as it was read."""

    arrival: Arrival
    row: tuple[Any, ...]
    first_delivery: bool
    conversation: Conversation | None


_END_CONVERSATION = DriverStatement(delete(conversations).where(conversations.c.contact_id == bindparam("contact_id")))
_CREATE_RESPONSE = DriverStatement(
    responses.insert().values(
        {
            name: bindparam(name)
            for name in (
                "id",
                "survey_id",
                "survey_version",
                "contact_id",
                "respondent",
                "channel",
                "language",
                "started_at",
                "arm",
            )
        }
        | {"completed_at": None}
    )
)
# SQLite: what _RECORD_ANSWERS_AND_SAVE_MANY writes on PostgreSQL, in the same order: the responses
# created, the answers, the conversations (rows from _saves_by_statement).
_SAVE_STEPS_EACH = EachRow(_CREATE_RESPONSE, _RECORD_ANSWER, _SAVE_CONVERSATION)
_LATEST_RESPONSE_SELECT = (
    select(responses.c.id, responses.c.survey_id, responses.c.started_at, responses.c.completed_at, responses.c.arm)
    .where(responses.c.contact_id == bindparam("contact_id"), responses.c.survey_id == bindparam("survey_id"))
    .order_by(responses.c.started_at.desc())
    .limit(1)
)
_LATEST_RESPONSE = DriverStatement(_LATEST_RESPONSE_SELECT)
_ANSWERS = DriverStatement(
    select(answers.c.question, answers.c.value).where(answers.c.response_id == bindparam("response_id"))
)
_COMPLETE_RESPONSE_UPDATE = (
    update(responses)
    .where(responses.c.id == bindparam("response_id"))
    .values(completed_at=bindparam("now"), score=bindparam("score"))
)
_COMPLETE_RESPONSE = DriverStatement(_COMPLETE_RESPONSE_UPDATE)
# Summed over the person's linked phone contacts (storage/linked_contacts.py): one person who
# answered on WhatsApp has answered by SMS and USSD too.
_COMPLETED_SELECT = select(func.coalesce(func.sum(participations.c.completed), 0)).where(
    participations.c.contact_id.in_(select(contacts.c.id).where(linked_clause(bindparam("contact_id")))),
    participations.c.survey_id == bindparam("survey_id"),
)
_COMPLETED = DriverStatement(_COMPLETED_SELECT)


def _latest_and_completed() -> Any:
    """:data:`_COMPLETED` and :data:`_LATEST_RESPONSE` in one query, one row: the count, then the
    latest response's columns (NULL when there is none). Plain SELECT: both backends run it."""
    total = _COMPLETED_SELECT.subquery("completed")
    latest = _LATEST_RESPONSE_SELECT.subquery("latest")
    return select(*total.c, *latest.c).select_from(total.outerjoin(latest, true()))


_LATEST_AND_COMPLETED = DriverStatement(_latest_and_completed())


def _finish_response(*, with_answer: bool) -> Any:
    """PostgreSQL: the last answer (:func:`_record_answer`, if ``with_answer``), the response
    completed (:data:`_COMPLETE_RESPONSE`), the completion counted (:func:`_record_completion`)
    and the conversation ended (:data:`_END_CONVERSATION`) in one statement, one round trip. Every
    part runs (data-modifying CTEs), each on a different table, so none misses another's change.

    The contact and the survey are the parameters ``of_contact`` and ``of_survey``: run through
    SQLAlchemy (a transaction's first statement), parameters named as columns of ``responses``
    would be added to the UPDATE's SET clause."""
    recorded = (_record_answer(postgresql.insert).cte("recorded"),) if with_answer else ()
    completed = _COMPLETE_RESPONSE_UPDATE.cte("completed")
    counted = _record_completion(postgresql.insert, "of_contact", "of_survey").cte("counted")
    ended = delete(conversations).where(conversations.c.contact_id == bindparam("of_contact"))
    return ended.add_cte(*recorded, completed, counted)


# PostgreSQL only, as _RECORD_ANSWER_AND_SAVE: after a last answer, and on a submitted summary.
_RECORD_AND_FINISH_RESPONSE = DriverStatement(_finish_response(with_answer=True))
_FINISH_RESPONSE = DriverStatement(_finish_response(with_answer=False))


class UpdateLog(Repository):
    """Deliveries already processed, keyed by channel and the channel's update id."""

    async def claim(self, channel: str, update_key: str, now: datetime, chat_key: str | None = None) -> bool:
        """Record the delivery; False if it was recorded before (a redelivery)."""
        claimed = await _CLAIM.rows(
            self.connection, {"channel": channel, "update_key": update_key, "now": now, "chat_key": chat_key}
        )
        return bool(claimed)

    async def superseded(self, channel: str, update_key: str, chat_key: str) -> bool:
        """True if an update of the same chat was processed after this (already processed) one.

        A late copy of such an update needs no answer: the person has had newer replies since.
        """
        first = (
            select(processed_updates.c.processed_at)
            .where(processed_updates.c.channel == channel, processed_updates.c.update_key == update_key)
            .scalar_subquery()
        )
        newer = await self.connection.scalar(
            select(processed_updates.c.update_key)
            .where(
                processed_updates.c.channel == channel,
                processed_updates.c.chat_key == chat_key,
                processed_updates.c.processed_at > first,
            )
            .limit(1)
        )
        return newer is not None

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (channels stop redelivering after a day)."""
        result = await self.connection.execute(
            delete(processed_updates).where(processed_updates.c.processed_at < moment)
        )
        return int(result.rowcount)


#: Conversations read along with their contact by :meth:`ContactRepository.claim_and_touch`, by
#: contact id, for the transaction's first :meth:`ConversationRepository.get`; shared by the
#: repositories of one transaction (:class:`Repositories`), emptied by any write to a conversation
#: or an answer, so what is returned is what a query would read.
ReadAhead = dict[int, Conversation | None]


class ContactRepository(Repository):
    def __init__(self, connection: AsyncConnection, read_ahead: ReadAhead | None = None) -> None:
        """``read_ahead``: where :meth:`claim_and_touch` leaves the contact's conversation, read in
        the same statement on PostgreSQL (None: not read)."""
        super().__init__(connection)
        self.read_ahead = read_ahead
        #: The languages set in this transaction, by contact id: the engine marks the replies of an
        #: update that changed the language (``/language``, onboarding) without reading the contact again.
        self.languages_set: dict[int, str] = {}

    @staticmethod
    def _contact(row: Sequence[Any], channel: str, user_key: str, chat_key: str) -> Contact:
        """The contact from a row starting with the :data:`_CONTACT_COLUMNS`."""
        (id_, language, user_group, region, organisation, consent, declined, opted_out, blocked, first_seen) = row[:10]
        return Contact(
            id=id_,
            channel=channel,
            user_key=user_key,
            chat_key=chat_key,
            language=language,
            user_group=user_group,
            region=region,
            organisation=organisation,
            consent_at=utc(consent),
            declined_at=utc(declined),
            opted_out_at=utc(opted_out),
            blocked_at=utc(blocked),
            first_seen_at=utc(first_seen),
        )

    async def touch(self, channel: str, user_key: str, chat_key: str, language: str | None, now: datetime) -> Contact:
        """The contact for this user, created on first contact; records that they were seen.

        A new contact holds only what is needed to hold the conversation: channel, platform
        ids, the platform's language hint and when it was seen. The register fields stay
        empty until the person consents.
        """
        parameters = {"channel": channel, "user_key": user_key, "chat_key": chat_key, "language": language, "now": now}
        (row,) = await _TOUCH.rows(self.connection, parameters)
        return await self._touched(row, channel, user_key, chat_key, now)

    async def claim_and_touch(
        self,
        channel: str,
        update_key: str,
        processed_at: datetime,
        user_key: str,
        chat_key: str,
        language: str | None,
        now: datetime,
    ) -> tuple[bool, Contact]:
        """:meth:`UpdateLog.claim` (at ``processed_at``) then :meth:`touch` (at ``now``): whether
        the update is a first delivery, and the contact. The same rows as the two calls; on
        PostgreSQL in one statement, a round trip fewer for every update."""
        if self.connection.dialect.name != "postgresql":
            first_delivery = await UpdateLog(self.connection).claim(channel, update_key, processed_at, chat_key)
            return first_delivery, await self.touch(channel, user_key, chat_key, language, now)
        parameters = {
            "channel": channel,
            "update_key": update_key,
            "processed_at": processed_at,
            "user_key": user_key,
            "chat_key": chat_key,
            "language": language,
            "now": now,
        }
        if self.read_ahead is None:
            (row,) = await _CLAIM_AND_TOUCH.rows(self.connection, parameters)
        else:
            rows = await _CLAIM_TOUCH_AND_READ.rows(self.connection, parameters)
            row = rows[0]
            self.read_ahead[row[0]] = _conversation(row[0], [each[len(_CONTACT_COLUMNS) + 1 :] for each in rows])
        return bool(row[len(_CONTACT_COLUMNS)]), await self._touched(row, channel, user_key, chat_key, now)

    async def claim_arrival(self, arrival: Arrival) -> tuple[bool, Contact]:
        """:meth:`claim_and_touch` of one update's :class:`Arrival`."""
        return await self.claim_and_touch(
            arrival.channel,
            arrival.update_key,
            arrival.processed_at,
            arrival.user_key,
            arrival.chat_key,
            arrival.language,
            arrival.now,
        )

    async def claim_and_touch_many(self, arrivals: Sequence[Arrival]) -> list[Claimed]:
        """:meth:`claim_and_touch` with the conversation read, for the updates of several chats
        together (one statement on PostgreSQL, three on SQLite); in the order given. Their users
        must all differ."""
        if self.connection.dialect.name != "postgresql":
            return await self._claim_and_touch_many_sqlite(arrivals)
        rows = await _CLAIM_TOUCH_AND_READ_MANY.rows(
            self.connection,
            {
                "channels": [a.channel for a in arrivals],
                "update_keys": [a.update_key for a in arrivals],
                "user_keys": [a.user_key for a in arrivals],
                "chat_keys": [a.chat_key for a in arrivals],
                "languages": [a.language for a in arrivals],
                "processed_ats": [a.processed_at for a in arrivals],
                "nows": [a.now for a in arrivals],
            },
        )
        if [row[0] for row in rows] != list(range(1, len(arrivals) + 1)):
            raise StorageError("the batch's claim did not read one contact per update")
        claimed = []
        width = len(_CONTACT_COLUMNS)
        for row, arrival in zip(rows, arrivals, strict=True):
            contact_row = tuple(row[1 : width + 1])
            *columns, questions, values = row[width + 2 :]
            answered = zip(questions or (), values or (), strict=True)  # NULL arrays: no answer
            conversation = _conversation_of(int(contact_row[0]), columns, answered)
            claimed.append(Claimed(arrival, contact_row, bool(row[width + 1]), conversation))
        return claimed

    async def _claim_and_touch_many_sqlite(self, arrivals: Sequence[Arrival]) -> list[Claimed]:
        """:meth:`claim_and_touch_many` on SQLite: the claims, the touches, then the conversations."""
        claimed_now = await _CLAIM_MANY_SQLITE.rows(
            self.connection, {"given": [(a.channel, a.update_key, a.processed_at, a.chat_key) for a in arrivals]}
        )
        touched = await _TOUCH_MANY_SQLITE.rows(
            self.connection, {"given": [(a.channel, a.user_key, a.chat_key, a.language, a.now) for a in arrivals]}
        )
        width = len(_CONTACT_COLUMNS)
        contact_rows = {(row[width], row[width + 1]): row[:width] for row in touched}
        if len(contact_rows) != len(arrivals):
            raise StorageError("the batch's touch did not return one contact per update")
        ids = [int(row[0]) for row in contact_rows.values()]
        answers_by_contact: dict[int, list[Sequence[Any]]] = {}
        for row in await _CONVERSATIONS_WITH_ANSWERS_SQLITE.rows(self.connection, {"contact_ids": json.dumps(ids)}):
            answers_by_contact.setdefault(int(row[0]), []).append(row[1:])
        first = {(channel, update_key) for channel, update_key in claimed_now}
        claimed = []
        for arrival in arrivals:
            contact_row = tuple(contact_rows[(arrival.channel, arrival.user_key)])
            contact_id = int(contact_row[0])
            conversation = _conversation(contact_id, answers_by_contact.get(contact_id, ()))
            claimed.append(Claimed(arrival, contact_row, (arrival.channel, arrival.update_key) in first, conversation))
        return claimed

    async def take_claimed(self, claimed: Claimed) -> tuple[bool, Contact]:
        """What :meth:`claim_and_touch` returns, from a claim made with the batch's; its
        conversation is read ahead for this transaction's first :meth:`ConversationRepository.get`."""
        arrival = claimed.arrival
        if self.read_ahead is not None:
            self.read_ahead[int(claimed.row[0])] = claimed.conversation
        contact = await self._touched(claimed.row, arrival.channel, arrival.user_key, arrival.chat_key, arrival.now)
        return claimed.first_delivery, contact

    async def _touched(self, row: Sequence[Any], channel: str, user_key: str, chat_key: str, now: datetime) -> Contact:
        """The contact of a touched row, linked to the same person's other contacts when new."""
        contact = self._contact(row, channel, user_key, chat_key)
        # A new contact on a phone channel is linked to the same person's other contacts.
        phone = phone_key_of(channel, user_key) if contact.first_seen_at == now else None
        if phone is not None and await link_new_contact(self.connection, contact.id, phone, now):
            return await self.get(contact.id) or contact
        return contact

    async def find(self, channel: str, user_key: str) -> int | None:
        """The id of the contact of this user, without recording anything; None for a stranger."""
        found = await self.connection.scalar(
            select(contacts.c.id).where(contacts.c.channel == channel, contacts.c.user_key == user_key)
        )
        return None if found is None else int(found)

    async def get(self, contact_id: int) -> Contact | None:
        row = (
            await self.connection.execute(
                select(*_CONTACT_COLUMNS, contacts.c.channel, contacts.c.user_key, contacts.c.chat_key).where(
                    contacts.c.id == contact_id
                )
            )
        ).one_or_none()
        return None if row is None else self._contact(row, row.channel, row.user_key, row.chat_key)

    # Consent, language and the register are the person's: written to every linked contact
    # (storage/linked_contacts.py); opt-out stays per channel.
    async def set_language(self, contact_id: int, language: str) -> None:
        await share_with_linked(self.connection, contact_id, language=language)
        await self.connection.execute(update(contacts).where(contacts.c.id == contact_id).values(language=language))
        self.languages_set[contact_id] = language

    async def set_field(self, contact_id: int, name: str, value: str | None) -> None:
        """Store one register field (``user_group``, ``region``, ``organisation``); None clears it."""
        width = REGISTER_FIELDS[name]
        stored = value[:width] if value is not None else None
        await self.connection.execute(update(contacts).where(linked_clause(contact_id)).values({name: stored}))

    async def give_consent(self, contact_id: int, now: datetime) -> None:
        await self.connection.execute(
            update(contacts).where(linked_clause(contact_id)).values(consent_at=now, declined_at=None)
        )

    async def decline_consent(self, contact_id: int, now: datetime) -> int:
        """A "no" to the privacy notice, or consent withdrawn: the profile and the subscriptions
        are deleted and only the refusal's date is kept. Returns the subscriptions removed."""
        linked = await linked_ids_for_update(self.connection, contact_id)
        removed = await self.connection.execute(delete(subscriptions).where(subscriptions.c.contact_id.in_(linked)))
        for each in linked:
            await ReleaseRepository(self.connection).erase(each)  # followed releases, like topics
        await self.connection.execute(
            update(contacts)
            .where(contacts.c.id.in_(linked))
            .values(consent_at=None, declined_at=now, user_group=None, region=None, organisation=None)
        )
        return int(removed.rowcount)

    async def opt_out(self, contact_id: int, now: datetime) -> None:
        """``/stop``: no messages the person did not ask for (the first /stop's date is kept)."""
        await self.connection.execute(
            update(contacts)
            .where(contacts.c.id == contact_id, contacts.c.opted_out_at.is_(None))
            .values(opted_out_at=now)
        )

    async def opt_in(self, contact_id: int) -> None:
        await self.connection.execute(update(contacts).where(contacts.c.id == contact_id).values(opted_out_at=None))

    async def erase(self, contact_id: int, respondent: str) -> Erasure:
        """Delete the contact and everything that identifies them (``/delete_my_data``).

        The contact row goes, with its conversation, subscriptions and participation counts;
        the feedback messages they sent are deleted, and so are their data requests (with their
        messages) and their outbox messages; broadcast deliveries lose their chat id.
        Survey responses are kept for statistics, but anonymous: no contact, and the respondent
        pseudonym (``respondent``, also matched by itself) is blanked, as for anonymous surveys.
        """
        anonymised = await self.connection.execute(
            update(responses)
            .where(or_(responses.c.contact_id == contact_id, responses.c.respondent == respondent))
            .values(contact_id=None, respondent="")
        )
        feedback_removed = await self.connection.execute(delete(feedback).where(feedback.c.contact_id == contact_id))
        unlinked = await self.connection.execute(
            update(deliveries)
            .where(deliveries.c.contact_id == contact_id)
            .values(contact_id=None, chat_key=None, message_key=None)
        )
        subscriptions_removed = await self.connection.execute(
            delete(subscriptions).where(subscriptions.c.contact_id == contact_id)
        )
        participations_removed = await self.connection.execute(
            delete(participations).where(participations.c.contact_id == contact_id)
        )
        # Processed update ids stay (a redelivery must still be recognised) but lose their chat.
        chat = (
            await self.connection.execute(
                select(contacts.c.channel, contacts.c.chat_key).where(contacts.c.id == contact_id)
            )
        ).first()
        if chat is not None:
            await self.connection.execute(
                update(processed_updates)
                .where(processed_updates.c.channel == chat.channel, processed_updates.c.chat_key == chat.chat_key)
                .values(chat_key=None)
            )
            if chat.channel == USSD_CHANNEL:  # the last USSD screen shown to the number
                await UssdSessionRepository(self.connection).forget(chat.chat_key)
        await self.connection.execute(delete(conversations).where(conversations.c.contact_id == contact_id))
        if self.read_ahead is not None:
            self.read_ahead.clear()
        await ReleaseRepository(self.connection).erase(contact_id)  # the release calendar entries followed
        # Data requests (and their messages) and messages waiting in the outbox go too.
        requests_removed = await RequestRepository(self.connection).delete_for_contact(contact_id)
        await OutboxRepository(self.connection).delete_for_contact(contact_id)
        await self.connection.execute(delete(contacts).where(contacts.c.id == contact_id))
        return Erasure(
            subscriptions=int(subscriptions_removed.rowcount),
            feedback=int(feedback_removed.rowcount),
            participations=int(participations_removed.rowcount),
            responses_anonymised=int(anonymised.rowcount),
            deliveries_unlinked=int(unlinked.rowcount),
            requests=requests_removed,
        )


class SubscriptionRepository(Repository):
    """The topics a contact follows."""

    async def topics(self, contact_id: int) -> tuple[str, ...]:
        rows = await self.connection.execute(
            select(subscriptions.c.topic)
            .where(subscriptions.c.contact_id == contact_id)
            .order_by(subscriptions.c.topic)
        )
        return tuple(topic for (topic,) in rows)

    # Topics are the person's: followed on every linked contact (storage/linked_contacts.py).
    async def add(self, contact_id: int, topic: str, now: datetime) -> None:
        for each in await linked_ids_for_update(self.connection, contact_id):
            await self.connection.execute(
                _insert(self.connection, subscriptions)
                .values(contact_id=each, topic=topic, subscribed_at=now)
                .on_conflict_do_nothing()
            )

    async def remove(self, contact_id: int, topic: str) -> None:
        linked = await linked_ids_for_update(self.connection, contact_id)
        await self.connection.execute(
            delete(subscriptions).where(subscriptions.c.contact_id.in_(linked), subscriptions.c.topic == topic)
        )

    async def replace(self, contact_id: int, topics: tuple[str, ...], now: datetime) -> None:
        """Follow exactly ``topics`` (those followed already keep their date)."""
        linked = await linked_ids_for_update(self.connection, contact_id)
        await self.connection.execute(
            delete(subscriptions).where(subscriptions.c.contact_id.in_(linked), subscriptions.c.topic.not_in(topics))
        )
        for topic in topics:
            await self.add(contact_id, topic, now)


def _conversation(contact_id: int, rows: Sequence[Sequence[Any]]) -> Conversation | None:
    """The conversation in rows of the :data:`_CONVERSATION_COLUMNS` (one per answer); None when
    there are none, or their conversation columns are NULL (an outer join found none)."""
    if not rows:
        return None
    answered = ((question, value) for *_, question, value in rows if question is not None)
    return _conversation_of(contact_id, rows[0][:-2], answered)


def _conversation_of(
    contact_id: int, columns: Sequence[Any], answered: Iterable[tuple[str, str | None]]
) -> Conversation | None:
    """The conversation in the :data:`_CONVERSATION_COLUMNS` but the answer's two, with its
    response's ``answered`` (question, value) pairs; None when the columns are NULL."""
    flow, survey_id, response_id, current_question, selection, prompt_serial, arm = columns
    if flow is None:
        return None
    return Conversation(
        contact_id=contact_id,
        flow=flow,
        survey_id=survey_id,
        response_id=response_id,
        current_question=current_question,
        selection=tuple(selection.split()),
        prompt_serial=prompt_serial,
        answers=MappingProxyType(dict(answered)) if response_id is not None else None,
        arm=arm,
    )


class ConversationRepository(Repository):
    def __init__(self, connection: AsyncConnection, read_ahead: ReadAhead | None = None) -> None:
        super().__init__(connection)
        self.read_ahead: ReadAhead = {} if read_ahead is None else read_ahead

    async def get(self, contact_id: int) -> Conversation | None:
        """The contact's conversation, with the stored answers of its response (read together:
        a survey step needs both); None outside any conversation."""
        if contact_id in self.read_ahead:  # read with the contact, and nothing written since
            return self.read_ahead.pop(contact_id)
        return _conversation(
            contact_id, await _CONVERSATION_WITH_ANSWERS.rows(self.connection, {"contact_id": contact_id})
        )

    async def save(
        self, conversation: Conversation, now: datetime, recorded: Sequence[tuple[str, str | None]] = ()
    ) -> None:
        """Store the conversation, after the ``recorded`` answers (question, value) of its response
        (as :meth:`ResponseRepository.record_answer`, in their order); on PostgreSQL the last
        answer and the conversation in one statement, a round trip fewer for every survey step."""
        parameters = {
            "contact_id": conversation.contact_id,
            "flow": conversation.flow,
            "survey_id": conversation.survey_id,
            "response_id": conversation.response_id,
            "current_question": conversation.current_question,
            "selection": " ".join(conversation.selection),
            "prompt_serial": conversation.prompt_serial,
            "updated_at": now,
        }
        self.read_ahead.clear()
        held = held_rows(self.connection)  # in a transaction of several updates
        together = recorded[-1:] if held is not None or self.connection.dialect.name == "postgresql" else ()
        if recorded:
            assert conversation.response_id is not None, "answers belong to the conversation's response"
            for question, value in recorded[: len(recorded) - len(together)]:
                await ResponseRepository(self.connection, self.read_ahead).record_answer(
                    conversation.response_id, question, value, now
                )
        if together:
            ((question, value),) = together
            parameters |= {"question": question, "value": value, "now": now}
        if held is not None:
            # The statement may change each conversation and each answer once.
            keys: list[tuple[Any, ...]] = [_conversation_key(conversation.contact_id)]
            keys += [_answer_key(conversation.response_id, question) for question, _ in together]
            await held.hold(self.connection, keys, parameters)
            return
        if together:
            await _RECORD_ANSWER_AND_SAVE.rows(self.connection, parameters)
        else:
            await _SAVE_CONVERSATION.rows(self.connection, parameters)

    async def end(self, contact_id: int) -> None:
        self.read_ahead.clear()
        await _END_CONVERSATION.rows(self.connection, {"contact_id": contact_id})


def _summary(
    id_: str, survey_id: str, started_at: datetime, completed_at: datetime | None, arm: str | None
) -> ResponseSummary:
    """A response summary from the columns of :data:`_LATEST_RESPONSE`."""
    return ResponseSummary(
        id=id_, survey_id=survey_id, started_at=utc(started_at) or started_at, completed_at=utc(completed_at), arm=arm
    )


def new_response_id() -> str:
    """A fresh response id: also the seed of the order the response shows shuffled groups and
    choices in (:mod:`surveys.arrangement`), so the caller may draw it before the response exists."""
    return str(uuid.uuid4())


class ResponseRepository(Repository):
    def __init__(self, connection: AsyncConnection, read_ahead: ReadAhead | None = None) -> None:
        super().__init__(connection)
        #: Emptied by every change of an answer (see :data:`ReadAhead`).
        self.read_ahead: ReadAhead = {} if read_ahead is None else read_ahead

    async def create(
        self,
        *,
        survey_id: str,
        survey_version: str,
        contact: Contact | None,
        respondent: str,
        language: str,
        now: datetime,
        channel: str | None = None,
        arm: str | None = None,
        response_id: str | None = None,
    ) -> str:
        """A new, incomplete response (in experiment ``arm``, under ``response_id`` if given: see
        :func:`new_response_id`); returns its id. Without a contact it is anonymous."""
        response_id = response_id or new_response_id()
        contact_id = contact.id if contact is not None else None
        row = {
            "id": response_id,
            "survey_id": survey_id,
            "survey_version": survey_version,
            "contact_id": contact_id,
            "respondent": respondent,
            "channel": contact.channel if contact is not None else channel,
            "language": language,
            "started_at": now,
            "arm": arm,
        }
        held = held_rows(self.connection)  # in a transaction of several updates
        if held is not None:
            keys = [_responses_key(contact_id), _response_key(response_id)]
            await held.hold(self.connection, keys, row | {_NEW_RESPONSE: True})
        else:
            await _CREATE_RESPONSE.rows(self.connection, row)
        return response_id

    async def latest_for(self, contact_id: int, survey_id: str) -> ResponseSummary | None:
        """The contact's most recent response to the survey, complete or not."""
        rows = await _LATEST_RESPONSE.rows(self.connection, {"contact_id": contact_id, "survey_id": survey_id})
        return _summary(*rows[0]) if rows else None

    async def latest_and_completed(self, contact_id: int, survey_id: str) -> tuple[ResponseSummary | None, int]:
        """:meth:`latest_for` and :meth:`ParticipationRepository.completed` read in one query (a
        survey's start needs both, or one of them: the other costs less than a round trip)."""
        # Reads the contact's responses and its linked contacts' completions: of what a transaction
        # holds (survey_steps_together), only responses it created for this contact.
        rows = await _LATEST_AND_COMPLETED.rows(
            self.connection, {"contact_id": contact_id, "survey_id": survey_id}, keys=[_responses_key(contact_id)]
        )
        ((completed, *latest),) = rows
        return (_summary(*latest) if latest[0] is not None else None), int(completed)

    async def answers(self, response_id: str) -> Mapping[str, str | None]:
        rows = await _ANSWERS.rows(self.connection, {"response_id": response_id})
        return {question: value for question, value in rows}

    async def answers_of(self, contact_id: int, respondent: str) -> list[tuple[str, str, str, str]]:
        """``(response id, survey id, question, value)`` of every non-empty answer in the contact's
        responses (linked to the contact or carrying their pseudonym ``respondent``)."""
        rows = await self.connection.execute(
            select(responses.c.id, responses.c.survey_id, answers.c.question, answers.c.value)
            .join(answers, answers.c.response_id == responses.c.id)
            .where(
                or_(responses.c.contact_id == contact_id, responses.c.respondent == respondent),
                answers.c.value.is_not(None),
            )
            .order_by(responses.c.id, answers.c.question)
        )
        return [(str(r), str(s), str(q), str(v)) for r, s, q, v in rows]

    async def clear_answer(self, response_id: str, question: str) -> None:
        """Empty one answer (its value becomes NULL, as for a skipped question)."""
        self.read_ahead.clear()
        await self.connection.execute(
            update(answers)
            .where(answers.c.response_id == response_id, answers.c.question == question)
            .values(value=None)
        )

    async def record_answer(self, response_id: str, question: str, value: str | None, now: datetime) -> None:
        """Store an answer; answering the same question again replaces the earlier value."""
        self.read_ahead.clear()
        await _RECORD_ANSWER.rows(
            self.connection,
            {"response_id": response_id, "question": question, "value": value, "now": now},
        )

    async def complete(self, response_id: str, now: datetime, *, score: int | None = None) -> None:
        await _COMPLETE_RESPONSE.rows(self.connection, {"response_id": response_id, "now": now, "score": score})

    async def finish(
        self,
        response_id: str,
        contact_id: int,
        survey_id: str,
        now: datetime,
        *,
        score: int | None = None,
        recorded: Sequence[tuple[str, str | None]] = (),
    ) -> None:
        """Store the ``recorded`` answers (question, value; as :meth:`record_answer`, in their order),
        complete the response (as :meth:`complete`), count the contact's completion of the survey
        (:meth:`ParticipationRepository.record_completion`) and end their conversation
        (:meth:`ConversationRepository.end`); on PostgreSQL the last answer and the rest in one
        statement, three round trips fewer for every finished response."""
        self.read_ahead.clear()
        # What it changes, in survey_steps_together's terms: the contact's conversation, the
        # response (perhaps anonymous) and its answers (completions are never held).
        keys: list[tuple[Any, ...]] = [_conversation_key(contact_id), _response_key(response_id)]
        keys += [_answer_key(response_id, question) for question, _ in recorded]
        if self.connection.dialect.name != "postgresql":
            await self._finish_one_by_one(response_id, contact_id, survey_id, now, score, recorded, keys)
            return
        for question, value in recorded[:-1]:
            await self.record_answer(response_id, question, value, now)
        parameters = {"response_id": response_id, "now": now, "score": score}
        parameters |= {"of_contact": contact_id, "of_survey": survey_id}
        if not recorded:
            await _FINISH_RESPONSE.rows(self.connection, parameters, keys=keys)
            return
        ((question, value),) = recorded[-1:]
        await _RECORD_AND_FINISH_RESPONSE.rows(
            self.connection, parameters | {"question": question, "value": value}, keys=keys
        )

    async def _finish_one_by_one(
        self,
        response_id: str,
        contact_id: int,
        survey_id: str,
        now: datetime,
        score: int | None,
        recorded: Sequence[tuple[str, str | None]],
        keys: Sequence[tuple[Any, ...]],
    ) -> None:
        """SQLite's :meth:`finish`: a statement for each part, each naming ``keys`` (all that the
        finish changes), so that other contacts' held steps stay held."""
        for question, value in recorded:
            answer = {"response_id": response_id, "question": question, "value": value, "now": now}
            await _RECORD_ANSWER.rows(self.connection, answer, keys=keys)
        completed = {"response_id": response_id, "now": now, "score": score}
        await _COMPLETE_RESPONSE.rows(self.connection, completed, keys=keys)
        counted = {"contact_id": contact_id, "survey_id": survey_id, "now": now}
        await _RECORD_COMPLETION.rows(self.connection, counted, keys=keys)
        await _END_CONVERSATION.rows(self.connection, {"contact_id": contact_id}, keys=keys)


class ParticipationRepository(Repository):
    async def completed(self, contact_id: int, survey_id: str) -> int:
        """How many times the contact (on any of its linked phone channels) completed the survey."""
        rows = await _COMPLETED.rows(self.connection, {"contact_id": contact_id, "survey_id": survey_id})
        return int(rows[0][0]) if rows else 0

    async def record_completion(self, contact_id: int, survey_id: str, now: datetime) -> None:
        await _RECORD_COMPLETION.rows(self.connection, {"contact_id": contact_id, "survey_id": survey_id, "now": now})


class InstanceSettings(Repository):
    async def get_or_create(self, key: str, make: Callable[[], str]) -> str:
        """The stored value for ``key``; on first use stores ``make()``."""
        await self.connection.execute(
            _insert(self.connection, instance_settings).values(key=key, value=make()).on_conflict_do_nothing()
        )
        row = (
            await self.connection.execute(select(instance_settings.c.value).where(instance_settings.c.key == key))
        ).one()
        return str(row.value)

    async def get(self, key: str) -> str | None:
        row = (
            await self.connection.execute(select(instance_settings.c.value).where(instance_settings.c.key == key))
        ).one_or_none()
        return None if row is None else str(row.value)

    async def put(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        await self.connection.execute(delete(instance_settings).where(instance_settings.c.key == key))
        await self.connection.execute(instance_settings.insert().values(key=key, value=value))

    async def remove(self, key: str) -> bool:
        result = await self.connection.execute(delete(instance_settings).where(instance_settings.c.key == key))
        return bool(result.rowcount)


class Repositories:
    """Every repository over one connection (one transaction).

    Each is made on first use: an inbound message uses a few of them, and one ``Repositories``
    is made per inbound message.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._read_ahead: ReadAhead = {}

    @functools.cached_property
    def updates(self) -> UpdateLog:
        return UpdateLog(self.connection)

    @functools.cached_property
    def contacts(self) -> ContactRepository:
        return ContactRepository(self.connection, self._read_ahead)

    @functools.cached_property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self.connection, self._read_ahead)

    @functools.cached_property
    def responses(self) -> ResponseRepository:
        return ResponseRepository(self.connection, self._read_ahead)

    @functools.cached_property
    def participations(self) -> ParticipationRepository:
        return ParticipationRepository(self.connection)

    @functools.cached_property
    def subscriptions(self) -> SubscriptionRepository:
        return SubscriptionRepository(self.connection)

    @functools.cached_property
    def settings(self) -> InstanceSettings:
        return InstanceSettings(self.connection)

    @functools.cached_property
    def indicators(self) -> IndicatorRepository:
        return IndicatorRepository(self.connection)

    @functools.cached_property
    def lookups(self) -> LookupRepository:
        return LookupRepository(self.connection)

    @functools.cached_property
    def releases(self) -> ReleaseRepository:
        return ReleaseRepository(self.connection)

    @functools.cached_property
    def requests(self) -> RequestRepository:
        return RequestRepository(self.connection)

    @functools.cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.connection)

    @functools.cached_property
    def webpush(self) -> WebPushRepository:
        return WebPushRepository(self.connection)

    @functools.cached_property
    def results(self) -> ResultsRepository:
        return ResultsRepository(self.connection)
