"""Fieldwork: inviting a sample to a survey, reminding who has not finished, and reporting how it went.

* **Invitations** (:func:`invite`): a segment of the register (groups, regions, languages, topics),
  optionally narrowed to a list of pseudonyms (a CSV an analyst drew) and/or a random sample of
  ``size`` stratified by a contact field, drawn with a ``seed`` so that it can be repeated
  (:func:`draw_sample`). Each invitee gets a notice with a button that starts the survey; the
  round is a broadcast sent by the durable sender at the configured rate. ``open_cells`` leaves
  out the people whose quota cell (by contact fields) is full (:mod:`handlers.quotas`).
* **Reminders** (:func:`queue_due_reminders`): the survey's ``reminders: [{after: 2d, text: ...}]``,
  each queued once per invitation (:mod:`storage.invitations`), only for invitees who got the
  invitation, have not finished, and have not opted out, blocked the bot or withdrawn consent;
  never in the office's quiet hours (:class:`QuietHours`). The button resumes a half-finished
  response at its question.
* **Dispositions** (:func:`disposition`) and **rates** (:class:`Tally`): every invitation's AAPOR
  final disposition, computed from what happened, and RR1-RR4, COOP1-COOP2 and REF1 by channel,
  group and wave (:func:`report`). The formulas are those of AAPOR's *Standard Definitions*
  (see docs/fieldwork.md).
* **Experiments** (:func:`assign_arms`): a survey's split-sample arms drawn for the invitees,
  balanced within each stratum; an arm with its own notice gets a broadcast of its own; the
  report breaks the rates down by arm too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import BarazaError
from handlers.broadcast_actions import whatsapp_silent_before
from handlers.notices import Notice, NoticeButton, WhatsAppTemplate
from handlers.quotas import quota_report
from storage import audit
from storage.broadcasts import Audience
from storage.exports.responses import Paradata, ResponseParadata
from storage.invitations import STRATA_FIELDS, Candidate, InvitationFacts, InvitationRepository, undelivered
from storage.linked_contacts import linked_keys
from surveys.arrangement import balanced_arms
from surveys.model import QUOTA_CONTACT_FIELDS, Survey
from surveys.quotas import full_cells, in_open_cells

#: Share of a survey's questions answered from which an unfinished response is a partial
#: interview rather than a break-off (AAPOR leaves the threshold to the researcher; 50% is common).
PARTIAL_SHARE = 0.5
EVERYONE = Audience()
START_LABEL = {"en": "Start the survey", "fr": "Commencer l'enquête", "ar": "ابدأ الاستبيان", "es": "Empezar"}
CONTINUE_LABEL = {"en": "Continue the survey", "fr": "Continuer l'enquête", "ar": "تابع الاستبيان", "es": "Continuar"}


class FieldworkError(BarazaError):
    """An invitation or report cannot be made as asked (the message says why)."""


class Disposition(StrEnum):
    """AAPOR final dispositions (codes of the table for internet surveys of named persons)."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    BREAK_OFF = "break-off"
    REFUSAL = "refusal"
    NON_CONTACT = "non-contact"
    NOT_DELIVERED = "not delivered"
    #: The person's quota cell was full (handlers/quotas.py): not eligible in AAPOR's terms.
    SCREENED_OUT = "screened out"
    #: Reserved for eligibility screening: not assigned yet.
    INELIGIBLE = "ineligible"

    @property
    def code(self) -> str:
        return AAPOR_CODES[self]


AAPOR_CODES: Mapping[Disposition, str] = {
    Disposition.COMPLETE: "1.1",
    Disposition.PARTIAL: "1.2",
    Disposition.REFUSAL: "2.11",
    Disposition.BREAK_OFF: "2.12",
    Disposition.NON_CONTACT: "2.20",
    Disposition.NOT_DELIVERED: "3.30",
    Disposition.SCREENED_OUT: "4.80",  # AAPOR "quota filled" (not eligible)
    Disposition.INELIGIBLE: "4.10",
}


def disposition(facts: InvitationFacts, questions: int, *, partial_share: float = PARTIAL_SHARE) -> Disposition:
    """The final disposition of one invitation, from what happened, first rule that applies:

    1. finished the survey → complete;
    2. started after the invitation and screened out (their quota cell was full) → screened out;
    3. started (after the invitation) and answered at least ``partial_share`` of the ``questions``
       → partial; started with fewer → break-off;
    4. opted out, blocked the bot or withdrew consent after the invitation (or the invitation was
       refused because they had) → refusal;
    5. the invitation did not reach them (failed, skipped, not sent yet) → not delivered;
    6. otherwise (it reached them, they never opened the survey) → non-contact.
    """
    if facts.completed:
        return Disposition.COMPLETE
    if facts.screened_out:
        return Disposition.SCREENED_OUT
    if facts.started_at is not None:
        if questions > 0 and facts.answered >= partial_share * questions:
            return Disposition.PARTIAL
        return Disposition.BREAK_OFF
    if facts.refused_at is not None or facts.delivery_error in ("blocked", "opted out", "no consent"):
        return Disposition.REFUSAL
    if undelivered(facts.delivery_status):
        return Disposition.NOT_DELIVERED
    return Disposition.NON_CONTACT


@dataclass(frozen=True)
class Tally:
    """Counts of dispositions and the AAPOR outcome rates computed from them.

    I complete, P partial, R refusal and break-off, NC non-contact, O other (none yet), UO
    unknown eligibility (not delivered), NE not eligible (screened out, ineligible); ``e`` the
    estimated share of eligible among the cases of unknown eligibility (default: the share among
    the known ones).
    """

    counts: Mapping[Disposition, int] = field(default_factory=dict)
    e: float | None = None

    def n(self, *dispositions: Disposition) -> int:
        return sum(int(self.counts.get(d, 0)) for d in dispositions)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def i(self) -> int:
        return self.n(Disposition.COMPLETE)

    @property
    def p(self) -> int:
        return self.n(Disposition.PARTIAL)

    @property
    def r(self) -> int:
        return self.n(Disposition.REFUSAL, Disposition.BREAK_OFF)

    @property
    def nc(self) -> int:
        return self.n(Disposition.NON_CONTACT)

    @property
    def o(self) -> int:
        return 0

    @property
    def u(self) -> int:
        return self.n(Disposition.NOT_DELIVERED)

    @property
    def ne(self) -> int:
        return self.n(Disposition.SCREENED_OUT, Disposition.INELIGIBLE)

    @property
    def eligibility(self) -> float:
        """``e``: given, or (I+P+R+NC+O) / (I+P+R+NC+O+NE); 1 when nothing is known."""
        if self.e is not None:
            return self.e
        eligible = self.i + self.p + self.r + self.nc + self.o
        known = eligible + self.ne
        return eligible / known if known else 1.0

    def _rate(self, numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator else None

    @property
    def rr1(self) -> float | None:
        return self._rate(self.i, self.i + self.p + self.r + self.nc + self.o + self.u)

    @property
    def rr2(self) -> float | None:
        return self._rate(self.i + self.p, self.i + self.p + self.r + self.nc + self.o + self.u)

    @property
    def rr3(self) -> float | None:
        return self._rate(self.i, self.i + self.p + self.r + self.nc + self.o + self.eligibility * self.u)

    @property
    def rr4(self) -> float | None:
        return self._rate(self.i + self.p, self.i + self.p + self.r + self.nc + self.o + self.eligibility * self.u)

    @property
    def coop1(self) -> float | None:
        return self._rate(self.i, self.i + self.p + self.r + self.o)

    @property
    def coop2(self) -> float | None:
        return self._rate(self.i + self.p, self.i + self.p + self.r + self.o)

    @property
    def ref1(self) -> float | None:
        return self._rate(self.r, self.i + self.p + self.r + self.nc + self.o + self.u)

    def rates(self) -> dict[str, float | None]:
        return {
            "RR1": self.rr1,
            "RR2": self.rr2,
            "RR3": self.rr3,
            "RR4": self.rr4,
            "COOP1": self.coop1,
            "COOP2": self.coop2,
            "REF1": self.ref1,
        }


def tally(dispositions: Iterable[Disposition], e: float | None = None) -> Tally:
    counts: dict[Disposition, int] = {}
    for found in dispositions:
        counts[found] = counts.get(found, 0) + 1
    return Tally(counts, e)


# --------------------------------------------------------------------------- sampling


def draw_sample(
    candidates: Sequence[Candidate], size: int | None, *, stratify_by: str | None = None, seed: int = 0
) -> list[tuple[Candidate, str | None]]:
    """A random sample of ``size`` candidates (all of them when None or larger), with its strata.

    Stratified by ``stratify_by`` (a field of :data:`storage.invitations.STRATA_FIELDS`):
    proportional allocation, the remainders going to the strata with the largest fractions (ties
    by stratum name). The same candidates, size, field and seed always give the same sample: each
    stratum is ordered by contact id and shuffled by a generator seeded from ``seed`` and its name.
    """
    if stratify_by is not None and stratify_by not in STRATA_FIELDS:
        raise FieldworkError(f"cannot stratify by '{stratify_by}' (use one of {', '.join(STRATA_FIELDS)})")
    if size is not None and size < 0:
        raise FieldworkError("the sample size cannot be negative")
    strata: dict[str, list[Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: c.contact_id):
        strata.setdefault(candidate.field(stratify_by) if stratify_by else "", []).append(candidate)
    total = sum(len(members) for members in strata.values())
    wanted = total if size is None or size >= total else size
    shares = {name: wanted * len(members) / total for name, members in strata.items()} if total else {}
    allocation = {name: int(share) for name, share in shares.items()}
    left = wanted - sum(allocation.values())
    for name in sorted(shares, key=lambda n: (-(shares[n] - allocation[n]), n))[:left]:
        allocation[name] += 1
    chosen: list[tuple[Candidate, str | None]] = []
    for name in sorted(strata):
        members = list(strata[name])
        random.Random(f"{seed}:{name}").shuffle(members)
        chosen.extend((member, name if stratify_by else None) for member in members[: allocation[name]])
    return sorted(chosen, key=lambda pair: pair[0].contact_id)


def assign_arms(survey: Survey, chosen: Sequence[tuple[Candidate, str | None]], seed: int) -> list[str | None]:
    """The experiment arm of each invitee of ``chosen`` (None for all without an experiment):
    balanced within each stratum (arm counts differ by one at most), drawn with ``seed`` and
    the stratum's name so that the same sample gets the same arms."""
    if survey.experiment is None:
        return [None] * len(chosen)
    by_stratum: dict[str, list[int]] = {}
    for index, (_, stratum) in enumerate(chosen):
        by_stratum.setdefault(stratum or "", []).append(index)
    arms: list[str | None] = [None] * len(chosen)
    for stratum, members in sorted(by_stratum.items()):
        drawn = balanced_arms(survey.experiment.arm_names, len(members), f"{seed}:{survey.experiment.name}:{stratum}")
        for index, arm in zip(members, drawn, strict=True):
            arms[index] = arm
    return arms


# --------------------------------------------------------------------------- quiet hours


@dataclass(frozen=True)
class QuietHours:
    """No invitation or reminder goes out between ``start`` and ``end`` in the office's ``zone``
    (``start`` after ``end``: the quiet time spans midnight, e.g. 21:00-08:00)."""

    zone: str = "UTC"
    start: time | None = time(21, 0)
    end: time | None = time(8, 0)

    @classmethod
    def parse(cls, zone: str, hours: str | None) -> QuietHours:
        """``hours`` as ``21:00-08:00`` (None or "" or "none": no quiet hours)."""
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise FieldworkError(f"'{zone}' is not a time zone such as Africa/Nairobi") from error
        if not hours or hours.strip().lower() == "none":
            return cls(zone, None, None)
        try:
            start, end = (time.fromisoformat(part.strip()) for part in hours.split("-"))
        except ValueError as error:
            raise FieldworkError(f"quiet hours '{hours}' must look like 21:00-08:00") from error
        return cls(zone, start, end)

    def _quiet(self, local: time) -> bool:
        if self.start is None or self.end is None or self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` if it is outside the quiet hours, else when they end (in UTC as given)."""
        local = moment.astimezone(ZoneInfo(self.zone))
        if not self._quiet(local.time()) or self.end is None:
            return moment
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(moment.tzinfo)


# --------------------------------------------------------------------------- invitations and reminders


@dataclass(frozen=True)
class RoundBroadcast:
    """One broadcast of an invitation round: for experiment ``arm`` (None: the round's own
    notice, shared by the arms without their own) and how many it invites."""

    broadcast_id: int
    arm: str | None
    invited: int


@dataclass(frozen=True)
class InvitationRound:
    """What :func:`invite` stored: the broadcast sending it and how many were invited."""

    broadcast_id: int
    invited: int
    candidates: int
    send_at: datetime
    strata: Mapping[str, int]
    #: Candidates left out because their quota cell (by contact fields) is full (``open_cells``).
    in_full_cells: int = 0
    #: Invitees by experiment arm (empty without an experiment); a dry run's split too.
    arms: Mapping[str, int] = field(default_factory=dict)
    #: Every broadcast the round stored (one per arm with its own notice, one for the rest);
    #: ``broadcast_id`` is the first of them.
    broadcasts: tuple[RoundBroadcast, ...] = ()

    @property
    def broadcast_ids(self) -> tuple[int, ...]:
        return tuple(part.broadcast_id for part in self.broadcasts)


def invitation_notice(
    survey: Survey, texts: Mapping[str, str] | None = None, template: WhatsAppTemplate | None = None
) -> Notice:
    """The invitation: ``texts`` (by language) or the survey's intro/title, with a start button."""
    if not texts:
        source = survey.intro or survey.title
        texts = dict(source.translations)
    return Notice(
        title=f"invitation: {survey.id}",
        texts=dict(texts),
        default_language=survey.default_language if survey.default_language in texts else next(iter(texts)),
        buttons=(NoticeButton(START_LABEL, survey=survey.id),),
        whatsapp_template=template,
    )


def arm_notice(survey: Survey, arm: str | None, template: WhatsAppTemplate | None = None) -> Notice | None:
    """The invitation of experiment ``arm`` when the arm words its own (``notice:``), else None;
    ``template``: the round's WhatsApp template, which the arm's notice uses too."""
    found = survey.experiment.arm(arm) if survey.experiment is not None else None
    if found is None or found.notice is None:
        return None
    return invitation_notice(survey, found.notice.translations, template)


def _with_start_button(notice: Notice, survey: Survey) -> Notice:
    if any(button.survey == survey.id for button in notice.buttons):
        return notice
    return Notice(
        title=notice.title,
        texts=notice.texts,
        default_language=notice.default_language,
        buttons=(*notice.buttons, NoticeButton(START_LABEL, survey=survey.id)),
        attachment=notice.attachment,
        whatsapp_template=notice.whatsapp_template,
    )


async def invite(
    connection: AsyncConnection,
    survey: Survey,
    *,
    audience: Audience = EVERYONE,
    notice: Notice | None = None,
    pseudonyms: Iterable[str] | None = None,
    pseudonymize: Callable[[str, str], str] | None = None,
    among: Collection[int] | None = None,
    size: int | None = None,
    stratify_by: str | None = None,
    seed: int = 0,
    wave: int = 1,
    quiet: QuietHours = QuietHours(),
    created_by: str,
    now: datetime,
    dry_run: bool = False,
    open_cells: bool = False,
) -> InvitationRound:
    """Choose the invitees and store the round (in the caller's transaction; nothing with ``dry_run``).

    ``pseudonyms`` (with ``pseudonymize``, the export's pseudonymizer) keeps only those people;
    ``open_cells`` leaves out those whose quota cell by contact fields is full already; then
    ``size`` are drawn (:func:`draw_sample`). The round is sent when the quiet hours allow.
    ``among`` (contact ids; the members of a panel, :func:`handlers.panels.panel_members`) keeps
    only those contacts.
    """
    repository = InvitationRepository(connection)
    notice = _with_start_button(notice, survey) if notice is not None else invitation_notice(survey)
    # One invitation per person linked across phone channels, on the channel they can receive it on.
    silent_before = whatsapp_silent_before(notice, now)
    candidates = await repository.candidates(survey.id, wave, audience, silent_before=silent_before)
    if among is not None:
        candidates = [c for c in candidates if c.contact_id in among]
    if pseudonyms is not None:
        if pseudonymize is None:
            raise FieldworkError("a list of pseudonyms needs the pseudonym key (privacy.pseudonym_key)")
        wanted = {p.strip().lower() for p in pseudonyms if p.strip()}
        # A person is listed under the pseudonym of any of their linked contacts (an export shows
        # the contact that answered), and is invited on the one chosen for them.
        others = await linked_keys(connection)
        candidates = [
            c
            for c in candidates
            if any(pseudonymize(*keys) in wanted for keys in [(c.channel, c.user_key), *others.get(c.contact_id, ())])
        ]
    in_full_cells = 0
    if open_cells:
        if not any(quota.steerable for quota in survey.quotas):
            raise FieldworkError(
                f"survey {survey.id} has no quota by contact fields only "
                f"({', '.join(QUOTA_CONTACT_FIELDS)}): there is nothing to steer invitations by"
            )
        full = full_cells(await quota_report(connection, survey))
        kept = [
            c for c in candidates if in_open_cells(survey, {f: c.field(f) or None for f in QUOTA_CONTACT_FIELDS}, full)
        ]
        in_full_cells = len(candidates) - len(kept)
        candidates = kept
    chosen = draw_sample(candidates, size, stratify_by=stratify_by, seed=seed)
    strata: dict[str, int] = {}
    for _, stratum in chosen:
        strata[stratum or ""] = strata.get(stratum or "", 0) + 1
    send_at = quiet.next_allowed(now)
    arms = assign_arms(survey, chosen, seed)
    split = {arm: arms.count(arm) for arm in sorted({arm for arm in arms if arm is not None})}
    if dry_run or not chosen:
        return InvitationRound(0, len(chosen), len(candidates), send_at, strata, in_full_cells, split)
    template = notice.whatsapp_template
    # One broadcast per notice: the arms of an experiment that word the invitation differently
    # get their own; the others share the round's.
    rounds: dict[str | None, list[int]] = {}
    for index, arm in enumerate(arms):
        rounds.setdefault(arm if arm_notice(survey, arm) is not None else None, []).append(index)
    stored: list[RoundBroadcast] = []
    for arm, members in rounds.items():
        sent = arm_notice(survey, arm, template) or notice
        found, count = await repository.invite(
            survey_id=survey.id,
            wave=wave,
            chosen=[chosen[index][0] for index in members],
            strata=[chosen[index][1] for index in members],
            arms=[arms[index] for index in members],
            title=f"invitation: {survey.id} wave {wave}" + (f" arm {arm}" if arm is not None else ""),
            notice=sent.to_json(),
            languages=sent.languages,
            default_language=sent.default_language,
            created_by=created_by,
            now=now,
            send_at=send_at,
        )
        stored.append(RoundBroadcast(found, arm, count))
    invited = sum(part.invited for part in stored)
    return InvitationRound(
        stored[0].broadcast_id, invited, len(candidates), send_at, strata, in_full_cells, split, tuple(stored)
    )


async def record_invitation(
    connection: AsyncConnection,
    survey: Survey,
    found: InvitationRound,
    *,
    actor: str,
    wave: int,
    seed: int,
    now: datetime,
    open_cells: bool = False,
) -> None:
    """The audit trail's entry of a stored invitation round (``baraza survey invite`` and the
    dashboard's fieldwork page alike), in the caller's transaction; nothing for an empty round."""
    if not found.invited:
        return
    steered = {"open_cells": True, "in_full_cells": found.in_full_cells} if open_cells else {}
    # Every broadcast of the round (an arm with its own notice has its own), as "12 (arm b: 3), 13 (3)".
    experiment: dict[str, object] = {
        "broadcasts": ", ".join(
            f"{part.broadcast_id} ({f'arm {part.arm}: ' if part.arm else ''}{part.invited})"
            for part in found.broadcasts
        )
    }
    if found.arms:
        experiment["arms"] = ", ".join(f"{arm}: {count}" for arm, count in sorted(found.arms.items()))
    await audit.record(
        connection,
        actor=actor,
        action=audit.BROADCAST_STORED,
        now=now,
        target=str(found.broadcast_id),
        details={
            "invitation": survey.id,
            "wave": wave,
            "invited": found.invited,
            "seed": seed,
            **steered,
            **experiment,
        },
    )


@dataclass(frozen=True)
class ReminderRound:
    number: int
    broadcast_id: int
    reminded: int
    send_at: datetime


async def queue_due_reminders(
    connection: AsyncConnection,
    survey: Survey,
    *,
    now: datetime,
    quiet: QuietHours = QuietHours(),
    template: WhatsAppTemplate | None = None,
    created_by: str = "reminders",
) -> list[ReminderRound]:
    """Queue the reminders of ``survey`` that are due at ``now`` (nothing in quiet hours).

    The latest reminder due comes first: someone who missed reminder 1 and is due for reminder 2
    gets reminder 2 only. A reminder is queued once per invitation, however often this runs.
    """
    if not survey.reminders or quiet.next_allowed(now) != now:
        return []
    repository = InvitationRepository(connection)
    rounds: list[ReminderRound] = []
    for number in range(len(survey.reminders), 0, -1):
        reminder = survey.reminders[number - 1]
        texts = dict(reminder.text.translations)
        notice = Notice(
            title=f"reminder {number}: {survey.id}",
            texts=texts,
            default_language=survey.default_language if survey.default_language in texts else next(iter(texts)),
            buttons=(NoticeButton(CONTINUE_LABEL, survey=survey.id),),
            whatsapp_template=template,
        )
        broadcast_id, reminded = await repository.queue_reminder(
            survey_id=survey.id,
            number=number,
            invited_before=now - reminder.after,
            title=notice.title,
            notice=notice.to_json(),
            languages=notice.languages,
            default_language=notice.default_language,
            created_by=created_by,
            now=now,
            send_at=now,
        )
        if broadcast_id is not None:
            rounds.append(ReminderRound(number, broadcast_id, reminded, now))
    return rounds


# --------------------------------------------------------------------------- the report and paradata


@dataclass(frozen=True)
class DispositionRow:
    """One invitation with its disposition and paradata, as exported (no platform id)."""

    respondent: str
    survey_id: str
    wave: int
    channel: str
    user_group: str
    stratum: str
    disposition: Disposition
    invited_at: datetime
    first_opened_at: datetime | None
    reminders_received: int
    duration_seconds: int | None
    device_language: str
    #: Whose invitation it is (not exported: the response export joins on it).
    contact_id: int | None = None
    #: The experiment arm (empty without an experiment).
    arm: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "respondent": self.respondent,
            "wave": self.wave,
            "channel": self.channel,
            "user_group": self.user_group,
            "stratum": self.stratum,
            "disposition": str(self.disposition),
            "aapor_code": self.disposition.code,
            "invited_at": self.invited_at.isoformat(),
            "first_opened_at": self.first_opened_at.isoformat() if self.first_opened_at else "",
            "reminders_received": self.reminders_received,
            "duration_seconds": "" if self.duration_seconds is None else self.duration_seconds,
            "device_language": self.device_language,
            "arm": self.arm,
        }


def survey_questions(survey: Survey) -> int:
    """How many questions count towards partial/break-off: the survey's own data questions."""
    return len(survey.table_questions())


async def disposition_rows(
    connection: AsyncConnection,
    survey: Survey,
    pseudonymize: Callable[[str, str], str] | None = None,
    *,
    partial_share: float = PARTIAL_SHARE,
) -> list[DispositionRow]:
    """Every invitation of ``survey`` with its disposition and paradata."""
    questions = survey_questions(survey)
    rows = []
    for facts in await InvitationRepository(connection).facts(survey.id):
        duration = None
        if facts.started_at is not None and facts.completed_at is not None:
            duration = int((facts.completed_at - facts.started_at).total_seconds())
        respondent = ""
        if pseudonymize is not None and facts.user_key is not None:
            respondent = pseudonymize(facts.channel, facts.user_key)
        rows.append(
            DispositionRow(
                respondent=respondent,
                survey_id=facts.survey_id,
                wave=facts.wave,
                channel=facts.channel,
                user_group=facts.user_group or "",
                stratum=facts.stratum or "",
                disposition=disposition(facts, questions, partial_share=partial_share),
                invited_at=facts.invited_at,
                first_opened_at=facts.started_at,
                reminders_received=facts.reminders_received,
                duration_seconds=duration,
                device_language=facts.response_language or "",
                contact_id=facts.contact_id,
                arm=facts.arm or "",
            )
        )
    return rows


async def response_paradata(
    connection: AsyncConnection, survey: Survey, *, partial_share: float = PARTIAL_SHARE
) -> ResponseParadata | None:
    """The disposition and paradata of ``survey``'s invitations by contact, for the fieldwork
    columns of the response exports (``storage.exports.responses``): the same rows as the
    report's export (:func:`disposition_rows`), a contact's latest invitation (highest wave,
    then latest) winning. None when the survey has no invitations (the export has no such columns)."""
    rows = await disposition_rows(connection, survey, partial_share=partial_share)
    if not rows:
        return None
    latest: dict[int, DispositionRow] = {}
    for row in rows:
        if row.contact_id is None:
            continue
        kept = latest.get(row.contact_id)
        if kept is None or (row.wave, row.invited_at) >= (kept.wave, kept.invited_at):
            latest[row.contact_id] = row
    return {
        contact_id: Paradata(
            disposition=str(row.disposition),
            aapor_code=row.disposition.code,
            wave=row.wave,
            invited_at=row.invited_at,
            first_opened_at=row.first_opened_at,
            channel=row.channel,
            reminders_received=row.reminders_received,
            duration_seconds=row.duration_seconds,
            device_language=row.device_language,
        )
        for contact_id, row in latest.items()
    }


#: What a report can break the rates down by (``arm``: only for a survey with an experiment).
BREAKDOWNS = ("channel", "user_group", "wave", "arm")


@dataclass(frozen=True)
class Report:
    survey_id: str
    overall: Tally
    #: ``by[breakdown][value]``: the tally of the invitations with that value.
    by: Mapping[str, Mapping[str, Tally]]


def build_report(survey_id: str, rows: Sequence[DispositionRow], e: float | None = None) -> Report:
    names = [name for name in BREAKDOWNS if name != "arm" or any(row.arm for row in rows)]
    by: dict[str, dict[str, list[Disposition]]] = {name: {} for name in names}
    for row in rows:
        for name in names:
            by[name].setdefault(str(getattr(row, name)) or "-", []).append(row.disposition)
    return Report(
        survey_id,
        tally((row.disposition for row in rows), e),
        {name: {value: tally(found, e) for value, found in sorted(groups.items())} for name, groups in by.items()},
    )


async def report(connection: AsyncConnection, survey: Survey, *, e: float | None = None) -> Report:
    return build_report(survey.id, await disposition_rows(connection, survey), e)


def format_report(found: Report) -> str:
    """The report as text tables: counts by disposition, then the rates, overall and by breakdown."""
    columns = [d for d in Disposition]
    rate_names = list(Tally().rates())
    header = ["", "invited", *[str(d) for d in columns], *rate_names]
    lines: list[list[str]] = []

    def line(label: str, counts: Tally) -> list[str]:
        rates = counts.rates()
        return [
            label,
            str(counts.total),
            *[str(counts.n(d)) for d in columns],
            *["-" if rates[name] is None else f"{100 * (rates[name] or 0):.1f}%" for name in rate_names],
        ]

    lines.append(line("all", found.overall))
    for name, groups in found.by.items():
        for value, counts in groups.items():
            lines.append(line(f"{name}={value}", counts))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    text = [f"survey {found.survey_id}: AAPOR final dispositions and outcome rates"]
    for row in [header, *lines]:
        text.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    text.append(f"e (eligible share of unknown cases) = {found.overall.eligibility:.3f}")
    return "\n".join(text)
