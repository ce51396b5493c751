"""What a handler gets for one inbound message: who sent it, their state, and the stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from catalogue.cache import CatalogueCache
from catalogue.calendar import ReleaseCalendar
from catalogue.concepts import Glossary
from handlers.messages import Inbound
from handlers.onboarding_file import onboarding_problems
from handlers.texts import Texts
from storage.media import MediaStore
from storage.pseudonyms import Pseudonymizer
from storage.records import Contact
from storage.repositories import Repositories
from surveys.errors import SurveyFileError
from surveys.expressions import Environment, Expression, ExpressionError, evaluate_bool
from surveys.model import Survey

DEFAULT_USER_GROUPS = (
    "policymaker", "parliamentarian", "political_organisation", "media", "academic", "researcher",
    "international_organisation", "civil_society", "citizen", "private_sector",
)  # fmt: skip
DEFAULT_TOPICS = ("prices", "labour", "population", "national_accounts", "agriculture", "health")


@dataclass(frozen=True)
class Community:
    """How this office organises its users (from ``config.yaml``), as the handlers need it.

    ``onboarding`` is the survey-format definition of the onboarding conversation (privacy
    notice and consent first), or None when onboarding is switched off. ``admins`` are
    ``(channel, user key)`` pairs allowed to broadcast. ``glossary`` (``/define``) and
    ``calendar`` (``/calendar``) are the office's concepts and release calendar (empty when
    none is configured).
    """

    user_groups: tuple[str, ...] = DEFAULT_USER_GROUPS
    topics: tuple[str, ...] = DEFAULT_TOPICS
    admins: frozenset[tuple[str, str]] = frozenset()
    onboarding: Survey | None = None
    glossary: Glossary = field(default_factory=Glossary)
    calendar: ReleaseCalendar = field(default_factory=ReleaseCalendar)

    def __post_init__(self) -> None:
        if self.onboarding is not None:
            # A broken onboarding file could store data without consent: refuse it at start.
            problems = onboarding_problems(self.onboarding, self.user_groups, self.topics)
            if problems:
                raise SurveyFileError(problems)

    def is_admin(self, channel: str, user_key: str) -> bool:
        return (channel, user_key) in self.admins


@dataclass(frozen=True)
class Context:
    """One inbound message in its transaction.

    Handlers read and write through ``repos``; everything they write is committed together
    after they return, and only then are their replies sent.
    """

    inbound: Inbound
    contact: Contact
    repos: Repositories
    surveys: Mapping[str, Survey]
    pseudonymize: Pseudonymizer
    now: datetime
    texts: Texts
    community: Community = field(default_factory=Community)
    #: the search index of the catalogue in service, shared by every update of this process
    catalogue: CatalogueCache = field(kw_only=True)
    #: where files sent as answers are kept; None: media answers are not received
    media: MediaStore | None = field(default=None, kw_only=True)

    @property
    def language(self) -> str:
        return self.texts.language

    def profile(self) -> dict[str, str | None]:
        """The contact's fields that a survey's ``audience`` may test."""
        return {
            "user_group": self.contact.user_group,
            "region": self.contact.region,
            "language": self.contact.language,
            "channel": self.contact.channel,
        }

    def in_audience(self, audience: Expression) -> bool:
        try:
            return evaluate_bool(audience, Environment(answers=self.profile(), today=self.now.date()))
        except ExpressionError:
            return False
