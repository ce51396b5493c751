"""Repositories: the queries Baraza needs, taking and returning domain values.

All methods run inside the caller's transaction (:meth:`storage.database.Database.session`);
none commits by itself, so one inbound message changes everything or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AnswerRow, ContactRow, ConversationRow, InstanceSettingRow, ProcessedUpdateRow, ResponseRow
from storage.records import Contact, Conversation, ResponseSummary


def utc(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything Baraza stores is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class UpdateLog:
    """Deliveries already processed, keyed by channel and the channel's update id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, channel: str, update_key: str, now: datetime) -> bool:
        """Record the delivery; False if it was recorded before (a redelivery)."""
        statement = (
            _insert(self.session, ProcessedUpdateRow)
            .values(channel=channel, update_key=update_key, processed_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget_before(self, moment: datetime) -> int:
        """Drop records older than ``moment`` (channels stop redelivering after a day)."""
        result = await self.session.execute(delete(ProcessedUpdateRow).where(ProcessedUpdateRow.processed_at < moment))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _contact(row: ContactRow) -> Contact:
    return Contact(id=row.id, channel=row.channel, user_key=row.user_key, chat_key=row.chat_key, language=row.language)


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def touch(self, channel: str, user_key: str, chat_key: str, language: str | None, now: datetime) -> Contact:
        """The contact for this user, created on first contact; records that they were seen."""
        statement = (
            _insert(self.session, ContactRow)
            .values(
                channel=channel,
                user_key=user_key,
                chat_key=chat_key,
                language=language,
                first_seen_at=now,
                last_seen_at=now,
            )
            .on_conflict_do_nothing()
        )
        await self.session.execute(statement)
        row = (
            await self.session.execute(
                select(ContactRow).where(ContactRow.channel == channel, ContactRow.user_key == user_key)
            )
        ).scalar_one()
        row.last_seen_at = now
        row.chat_key = chat_key
        return _contact(row)

    async def set_language(self, contact_id: int, language: str) -> None:
        await self.session.execute(update(ContactRow).where(ContactRow.id == contact_id).values(language=language))


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        contact_id=row.contact_id,
        flow=row.flow,
        survey_id=row.survey_id,
        response_id=row.response_id,
        current_question=row.current_question,
        selection=tuple(row.selection.split()),
        prompt_serial=row.prompt_serial,
    )


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, contact_id: int) -> Conversation | None:
        row = await self.session.get(ConversationRow, contact_id)
        return _conversation(row) if row else None

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
            _insert(self.session, ConversationRow)
            .values(contact_id=conversation.contact_id, **values)
            .on_conflict_do_update(index_elements=["contact_id"], set_=values)
        )
        await self.session.execute(statement)

    async def end(self, contact_id: int) -> None:
        await self.session.execute(delete(ConversationRow).where(ConversationRow.contact_id == contact_id))


class ResponseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        survey_id: str,
        survey_version: str,
        contact: Contact,
        respondent: str,
        language: str,
        now: datetime,
    ) -> str:
        """A new, incomplete response; returns its id."""
        response_id = str(uuid.uuid4())
        self.session.add(
            ResponseRow(
                id=response_id,
                survey_id=survey_id,
                survey_version=survey_version,
                contact_id=contact.id,
                respondent=respondent,
                channel=contact.channel,
                language=language,
                started_at=now,
                completed_at=None,
            )
        )
        await self.session.flush()
        return response_id

    async def latest_for(self, contact_id: int, survey_id: str) -> ResponseSummary | None:
        """The contact's most recent response to the survey, complete or not."""
        row = (
            await self.session.execute(
                select(ResponseRow)
                .where(ResponseRow.contact_id == contact_id, ResponseRow.survey_id == survey_id)
                .order_by(ResponseRow.started_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return ResponseSummary(
            id=row.id,
            survey_id=row.survey_id,
            started_at=utc(row.started_at) or row.started_at,
            completed_at=utc(row.completed_at),
        )

    async def answers(self, response_id: str) -> Mapping[str, str | None]:
        rows = await self.session.execute(
            select(AnswerRow.question, AnswerRow.value).where(AnswerRow.response_id == response_id)
        )
        return {question: value for question, value in rows}

    async def record_answer(self, response_id: str, question: str, value: str | None, now: datetime) -> None:
        """Store an answer; answering the same question again replaces the earlier value."""
        statement = (
            _insert(self.session, AnswerRow)
            .values(response_id=response_id, question=question, value=value, answered_at=now)
            .on_conflict_do_update(
                index_elements=["response_id", "question"], set_={"value": value, "answered_at": now}
            )
        )
        await self.session.execute(statement)

    async def complete(self, response_id: str, now: datetime) -> None:
        await self.session.execute(update(ResponseRow).where(ResponseRow.id == response_id).values(completed_at=now))


class InstanceSettings:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, key: str, make: Any) -> str:
        """The stored value for ``key``; on first use stores ``make()``."""
        await self.session.execute(
            _insert(self.session, InstanceSettingRow).values(key=key, value=make()).on_conflict_do_nothing()
        )
        row = await self.session.get(InstanceSettingRow, key)
        assert row is not None
        return row.value


class Repositories:
    """Every repository over one session (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.updates = UpdateLog(session)
        self.contacts = ContactRepository(session)
        self.conversations = ConversationRepository(session)
        self.responses = ResponseRepository(session)
        self.settings = InstanceSettings(session)
