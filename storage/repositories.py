"""Repositories: the queries Baraza needs, taking and returning domain values.

All methods run inside the caller's transaction (:meth:`storage.database.Database.transaction`);
none commits by itself, so one inbound message changes everything or nothing. They use
SQLAlchemy Core on the connection: each inbound message costs a handful of statements, and
the ORM's unit of work would only add overhead on this hot path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import (
    AnswerRow,
    ContactRow,
    ConversationRow,
    InstanceSettingRow,
    ParticipationRow,
    ProcessedUpdateRow,
    ResponseRow,
)
from storage.records import Contact, Conversation, ResponseSummary

contacts = cast(Table, ContactRow.__table__)
conversations = cast(Table, ConversationRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
processed_updates = cast(Table, ProcessedUpdateRow.__table__)
instance_settings = cast(Table, InstanceSettingRow.__table__)
participations = cast(Table, ParticipationRow.__table__)


def utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything Baraza stores is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert(connection: AsyncConnection, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


class UpdateLog:
    """Deliveries already processed, keyed by channel and the channel's update id."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def claim(self, channel: str, update_key: str, now: datetime) -> bool:
        """Record the delivery; False if it was recorded before (a redelivery)."""
        statement = (
            _insert(self.connection, processed_updates)
            .values(channel=channel, update_key=update_key, processed_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.connection.execute(statement)
        return bool(result.rowcount)

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (channels stop redelivering after a day)."""
        result = await self.connection.execute(
            delete(processed_updates).where(processed_updates.c.processed_at < moment)
        )
        return int(result.rowcount)


class ContactRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def touch(self, channel: str, user_key: str, chat_key: str, language: str | None, now: datetime) -> Contact:
        """The contact for this user, created on first contact; records that they were seen."""
        statement = (
            _insert(self.connection, contacts)
            .values(
                channel=channel,
                user_key=user_key,
                chat_key=chat_key,
                language=language,
                first_seen_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_update(
                index_elements=["channel", "user_key"], set_={"last_seen_at": now, "chat_key": chat_key}
            )
            .returning(contacts.c.id, contacts.c.language)
        )
        contact_id, stored_language = (await self.connection.execute(statement)).one()
        return Contact(id=contact_id, channel=channel, user_key=user_key, chat_key=chat_key, language=stored_language)

    async def set_language(self, contact_id: int, language: str) -> None:
        await self.connection.execute(update(contacts).where(contacts.c.id == contact_id).values(language=language))


class ConversationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def get(self, contact_id: int) -> Conversation | None:
        row = (
            await self.connection.execute(select(conversations).where(conversations.c.contact_id == contact_id))
        ).one_or_none()
        if row is None:
            return None
        return Conversation(
            contact_id=row.contact_id,
            flow=row.flow,
            survey_id=row.survey_id,
            response_id=row.response_id,
            current_question=row.current_question,
            selection=tuple(row.selection.split()),
            prompt_serial=row.prompt_serial,
        )

    async def save(self, conversation: Conversation, now: datetime) -> None:
        values = {
            "flow": conversation.flow,
            "survey_id": conversation.survey_id,
            "response_id": conversation.response_id,
            "current_question": conversation.current_question,
            "selection": " ".join(conversation.selection),
            "prompt_serial": conversation.prompt_serial,
            "updated_at": now,
        }
        statement = (
            _insert(self.connection, conversations)
            .values(contact_id=conversation.contact_id, **values)
            .on_conflict_do_update(index_elements=["contact_id"], set_=values)
        )
        await self.connection.execute(statement)

    async def end(self, contact_id: int) -> None:
        await self.connection.execute(delete(conversations).where(conversations.c.contact_id == contact_id))


class ResponseRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

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
    ) -> str:
        """A new, incomplete response; returns its id. Without a contact it is anonymous."""
        response_id = str(uuid.uuid4())
        await self.connection.execute(
            responses.insert().values(
                id=response_id,
                survey_id=survey_id,
                survey_version=survey_version,
                contact_id=contact.id if contact is not None else None,
                respondent=respondent,
                channel=contact.channel if contact is not None else channel,
                language=language,
                started_at=now,
                completed_at=None,
            )
        )
        return response_id

    async def latest_for(self, contact_id: int, survey_id: str) -> ResponseSummary | None:
        """The contact's most recent response to the survey, complete or not."""
        row = (
            await self.connection.execute(
                select(responses.c.id, responses.c.survey_id, responses.c.started_at, responses.c.completed_at)
                .where(responses.c.contact_id == contact_id, responses.c.survey_id == survey_id)
                .order_by(responses.c.started_at.desc())
                .limit(1)
            )
        ).one_or_none()
        if row is None:
            return None
        return ResponseSummary(
            id=row.id,
            survey_id=row.survey_id,
            started_at=utc(row.started_at) or row.started_at,
            completed_at=utc(row.completed_at),
        )

    async def answers(self, response_id: str) -> Mapping[str, str | None]:
        rows = await self.connection.execute(
            select(answers.c.question, answers.c.value).where(answers.c.response_id == response_id)
        )
        return {question: value for question, value in rows}

    async def record_answer(self, response_id: str, question: str, value: str | None, now: datetime) -> None:
        """Store an answer; answering the same question again replaces the earlier value."""
        statement = (
            _insert(self.connection, answers)
            .values(response_id=response_id, question=question, value=value, answered_at=now)
            .on_conflict_do_update(
                index_elements=["response_id", "question"], set_={"value": value, "answered_at": now}
            )
        )
        await self.connection.execute(statement)

    async def complete(self, response_id: str, now: datetime, *, score: int | None = None) -> None:
        await self.connection.execute(
            update(responses).where(responses.c.id == response_id).values(completed_at=now, score=score)
        )


class ParticipationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def completed(self, contact_id: int, survey_id: str) -> int:
        """How many times the contact completed the survey."""
        count = await self.connection.scalar(
            select(participations.c.completed).where(
                participations.c.contact_id == contact_id, participations.c.survey_id == survey_id
            )
        )
        return int(count or 0)

    async def record_completion(self, contact_id: int, survey_id: str, now: datetime) -> None:
        statement = (
            _insert(self.connection, participations)
            .values(contact_id=contact_id, survey_id=survey_id, completed=1, last_completed_at=now)
            .on_conflict_do_update(
                index_elements=["contact_id", "survey_id"],
                set_={"completed": participations.c.completed + 1, "last_completed_at": now},
            )
        )
        await self.connection.execute(statement)


class InstanceSettings:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def get_or_create(self, key: str, make: Callable[[], str]) -> str:
        """The stored value for ``key``; on first use stores ``make()``."""
        await self.connection.execute(
            _insert(self.connection, instance_settings).values(key=key, value=make()).on_conflict_do_nothing()
        )
        row = (
            await self.connection.execute(select(instance_settings.c.value).where(instance_settings.c.key == key))
        ).one()
        return str(row.value)


class Repositories:
    """Every repository over one connection (one transaction)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.updates = UpdateLog(connection)
        self.contacts = ContactRepository(connection)
        self.conversations = ConversationRepository(connection)
        self.responses = ResponseRepository(connection)
        self.participations = ParticipationRepository(connection)
        self.settings = InstanceSettings(connection)
