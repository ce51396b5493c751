"""Domain values that storage hands to the rest of Baraza (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Contact:
    id: int
    channel: str
    user_key: str
    chat_key: str
    language: str | None
    # Filled by onboarding (user register); empty until then.
    user_group: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Conversation:
    """Where a contact is: in ``flow`` (``survey``), at ``current_question`` of a response.

    ``prompt_serial`` numbers the prompts shown; buttons carry it so that presses on an earlier
    prompt are recognised as stale.
    """

    contact_id: int
    flow: str
    survey_id: str | None
    response_id: str | None
    current_question: str | None
    selection: tuple[str, ...]
    prompt_serial: int


@dataclass(frozen=True)
class ResponseSummary:
    id: str
    survey_id: str
    started_at: datetime
    completed_at: datetime | None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None
