"""Engagement data for tests and benchmarks: a register, data requests, satisfaction answers and
notices with read receipts, spread over the months before ``now``, inserted directly. The facts
are returned too, so that a test computes the expected figures on its own."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table

from storage.database import Database
from storage.models import AnswerRow, BroadcastRow, ContactRow, DataRequestRow, DeliveryRow, ResponseRow

contacts = cast(Table, ContactRow.__table__)
data_requests = cast(Table, DataRequestRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
broadcasts = cast(Table, BroadcastRow.__table__)
deliveries = cast(Table, DeliveryRow.__table__)

GROUPS = ("citizen", "media", "researcher")
BATCH = 5000


@dataclass(frozen=True)
class SeededContact:
    user_group: str
    consent_at: datetime | None
    declined_at: datetime | None
    channel: str


@dataclass(frozen=True)
class SeededRequest:
    created_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class SeededRating:
    survey_id: str
    started_at: datetime
    completed_at: datetime | None
    value: str


@dataclass(frozen=True)
class SeededDelivery:
    channel: str
    status: str
    sent_at: datetime | None
    read_at: datetime | None


@dataclass(frozen=True)
class EngagementFacts:
    contacts: tuple[SeededContact, ...]
    requests: tuple[SeededRequest, ...]
    ratings: tuple[SeededRating, ...]
    deliveries: tuple[SeededDelivery, ...]


def _moment(chance: random.Random, now: datetime, days: int) -> datetime:
    return (now - timedelta(days=chance.uniform(0, days))).replace(microsecond=0)


async def seed_engagement(database: Database, now: datetime, *, seed: int = 2027, size: int = 60) -> EngagementFacts:
    """Insert ``size`` contacts (a few declined later), requests, usat2026 ratings and WhatsApp and
    Telegram notices over the 200 days before ``now``; returns what was inserted."""
    chance = random.Random(seed)
    people = []
    for index in range(size):
        consent = _moment(chance, now, 200) if index % 10 != 9 else None  # every tenth never consented
        declined = consent + timedelta(days=5) if consent is not None and index % 15 == 0 else None
        group = GROUPS[0] if index % 6 < 4 else GROUPS[1] if index % 6 == 4 else GROUPS[2]
        people.append(SeededContact(group, consent, declined, "whatsapp" if index % 2 else "telegram"))
    requests = []
    for _ in range(size // 2):
        created = _moment(chance, now, 200)
        answered = created + timedelta(hours=chance.uniform(1, 24 * 9)) if chance.random() < 0.8 else None
        if answered is not None and answered >= now:
            answered = None
        requests.append(SeededRequest(created, answered))
    ratings = []
    for _ in range(size):
        started = _moment(chance, now, 200)
        completed = started + timedelta(minutes=4) if chance.random() < 0.85 else None
        if completed is not None and completed >= now:
            completed = None
        ratings.append(SeededRating("usat2026", started, completed, str(chance.randint(1, 5))))
    sent_deliveries = []
    for index in range(size * 2):
        sent = _moment(chance, now, 200)
        channel = "whatsapp" if index % 3 else "telegram"
        status = "sent" if index % 7 else "failed"
        read = (
            sent + timedelta(hours=2) if status == "sent" and channel == "whatsapp" and chance.random() < 0.6 else None
        )
        if read is not None and read >= now:
            read = None
        sent_deliveries.append(SeededDelivery(channel, status, sent if status == "sent" else None, read))
    contact_rows = [
        {
            "channel": person.channel,
            "user_key": f"eng-{index}",
            "chat_key": f"eng-{index}",
            "language": "en",
            "first_seen_at": person.consent_at or now - timedelta(days=1),
            "last_seen_at": person.consent_at or now - timedelta(days=1),
            "consent_at": person.consent_at,
            "declined_at": person.declined_at,
            "user_group": person.user_group,
            "region": None,
            "opted_out_at": None,
            "blocked_at": None,
        }
        for index, person in enumerate(people)
    ]
    request_rows = [
        {
            "contact_id": None,
            "channel": "telegram",
            "language": "en",
            "user_group": "citizen",
            "source": "request",
            "text": "CPI by region",
            "status": "answered" if request.answered_at else "open",
            "assigned_to": None,
            "created_at": request.created_at,
            "updated_at": request.answered_at or request.created_at,
            "answered_at": request.answered_at,
            "closed_at": None,
        }
        for request in requests
    ]
    ids = [str(uuid.UUID(int=chance.getrandbits(128))) for _ in ratings]
    response_rows = [
        {
            "id": response_id,
            "survey_id": rating.survey_id,
            "survey_version": "v1",
            "contact_id": None,
            "respondent": "",
            "channel": "telegram",
            "language": "en",
            "started_at": rating.started_at,
            "completed_at": rating.completed_at,
            "score": None,
        }
        for response_id, rating in zip(ids, ratings, strict=True)
    ]
    answer_rows = [
        {"response_id": response_id, "question": "sat_overall", "value": rating.value, "answered_at": rating.started_at}
        for response_id, rating in zip(ids, ratings, strict=True)
    ]
    async with database.transaction() as connection:
        for table, rows in (
            (contacts, contact_rows),
            (data_requests, request_rows),
            (responses, response_rows),
            (answers, answer_rows),
        ):
            for start in range(0, len(rows), BATCH):
                await connection.execute(table.insert(), rows[start : start + BATCH])
        broadcast_id = (
            await connection.execute(
                broadcasts.insert()
                .values(
                    title="CPI",
                    notice="{}",
                    audience="{}",
                    status="done",
                    created_by="test",
                    created_at=now - timedelta(days=200),
                    send_at=now - timedelta(days=200),
                    finished_at=None,
                    recipients=len(sent_deliveries),
                )
                .returning(broadcasts.c.id)
            )
        ).scalar_one()
        delivery_rows = [
            {
                "broadcast_id": broadcast_id,
                "contact_id": None,
                "channel": item.channel,
                "chat_key": None,
                "language": "en",
                "status": item.status,
                "attempts": 1,
                "error": None,
                "claimed_at": item.sent_at,
                "sent_at": item.sent_at,
                "message_key": None,
                "delivered_at": None,
                "read_at": item.read_at,
            }
            for item in sent_deliveries
        ]
        for start in range(0, len(delivery_rows), BATCH):
            await connection.execute(deliveries.insert(), delivery_rows[start : start + BATCH])
    return EngagementFacts(tuple(people), tuple(requests), tuple(ratings), tuple(sent_deliveries))
