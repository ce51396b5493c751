"""Domain values that storage hands to the rest of Baraza (never ORM rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Contact:
    """One person on one channel, with their entry in the register.

    ``user_group``, ``region`` and ``organisation`` are filled by onboarding and ``/profile``,
    only after consent (``consent_at``); ``declined_at`` is when the person said no.
    ``opted_out_at`` is set by ``/stop`` (no messages the person did not ask for).
    """

    id: int
    channel: str
    user_key: str
    chat_key: str
    language: str | None
    user_group: str | None = None
    region: str | None = None
    organisation: str | None = None
    consent_at: datetime | None = None
    declined_at: datetime | None = None
    opted_out_at: datetime | None = None
    blocked_at: datetime | None = None
    first_seen_at: datetime | None = None

    @property
    def has_consented(self) -> bool:
        return self.consent_at is not None

    @property
    def has_answered_consent(self) -> bool:
        """Whether the person said yes or no to the privacy notice."""
        return self.consent_at is not None or self.declined_at is not None


@dataclass(frozen=True)
class Conversation:
    """Where a contact is: in ``flow`` (``survey``), at ``current_question`` of a response.

    ``prompt_serial`` numbers the prompts shown; buttons carry it so that presses on an earlier
    prompt are recognised as stale.

    ``answers``: the stored answers of ``response_id`` as read together with the conversation
    (:meth:`storage.repositories.ConversationRepository.get`), so that a survey step needs no
    second query; None when the conversation was not read from the database or has no response.
    It is not part of where the contact is (equality ignores it) and is not written by ``save``.
    """

    contact_id: int
    flow: str
    survey_id: str | None
    response_id: str | None
    current_question: str | None
    selection: tuple[str, ...]
    prompt_serial: int
    answers: Mapping[str, str | None] | None = field(default=None, compare=False, repr=False)
    #: The experiment arm of ``response_id`` (read with it; None: no experiment, or not read).
    arm: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ResponseSummary:
    id: str
    survey_id: str
    started_at: datetime
    completed_at: datetime | None
    #: The experiment arm the response is in (None: no experiment).
    arm: str | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Erasure:
    """What ``/delete_my_data`` removed: rows deleted, and responses made anonymous."""

    subscriptions: int
    feedback: int
    participations: int
    responses_anonymised: int
    deliveries_unlinked: int
    #: Data requests deleted, with their messages.
    requests: int = 0
