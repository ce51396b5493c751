"""The fieldwork page of a survey: its invitations' AAPOR dispositions and outcome rates, overall
and by channel, user group and wave, with the counts behind them (what ``baraza survey report``
prints). The dispositions with paradata and pseudonyms: ``baraza survey report SURVEY --export FILE.csv``.

Editors invite from it too, as ``baraza survey invite`` does (the same :func:`handlers.invitations.invite`
and :func:`~handlers.invitations.record_invitation`): a segment (topics, user groups, regions,
languages) or a seeded sample of N, stratified by a contact field. A dry run shows the reach by
channel with the reasons people are left out (:meth:`storage.broadcasts.BroadcastRepository.reach`),
how many have not been invited to the wave yet and how many would be, by stratum; then Send stores
the round, which ``baraza run`` sends at the configured rate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.admin.auth import FORM_KEY, PREFIX, STAFF_KEY
from bot.admin.broadcasts import form_values
from bot.admin.pages import title_of
from bot.admin.render import render
from bot.admin.site import AdminSite
from handlers.broadcast_actions import preview_audience, reach_lines, whatsapp_silent_before
from handlers.invitations import (
    Disposition,
    FieldworkError,
    InvitationRound,
    Tally,
    build_report,
    disposition_rows,
    invitation_notice,
    invite,
    record_invitation,
)
from handlers.panels import panel_members
from handlers.quotas import quota_report
from handlers.texts import LANGUAGE_NAMES, SUPPORTED_LANGUAGES
from storage.broadcasts import PUSH_CHANNELS, Audience
from storage.dashboard import DashboardQueries
from storage.invitations import STRATA_FIELDS
from storage.staff import StaffSession
from surveys.model import Survey

log = logging.getLogger(__name__)
RATES = tuple(Tally().rates())
#: The largest wave and seed the form takes (the CLI takes any integer; these keep the form sane).
MAX_WAVE = 1000
MAX_SEED = 2**31 - 1


@dataclass
class InvitationForm:
    """The invitation form's values (the options of ``baraza survey invite``), and what is wrong."""

    topics: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sample: int | None = None
    stratify_by: str = ""
    seed: int = 0
    wave: int = 1
    #: Invite only people whose quota cell (by contact fields) is still open.
    open_cells: bool = False
    #: Only the people who took part in the previous wave of the survey's panel (``--panel-members``).
    panel_members: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def audience(self) -> Audience:
        return Audience(
            topics=self.topics,
            user_groups=self.user_groups,
            regions=self.regions,
            languages=self.languages,
            channels=PUSH_CHANNELS,
        )


def _whole(data: Mapping[str, Any], name: str, what: str, low: int, high: int, problems: list[str]) -> int | None:
    text = str(data.get(name, "")).strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        problems.append(f"The {what} must be a whole number.")
        return None
    if not low <= value <= high:
        problems.append(f"The {what} must be between {low:,} and {high:,}.")
        return None
    return value


def read_invitation(data: Mapping[str, Any], site: AdminSite, regions: list[str]) -> InvitationForm:
    """The invitation form in a POSTed form, checked against the configuration."""
    problems: list[str] = []
    stratify_by = str(data.get("stratify_by", "")).strip()
    if stratify_by and stratify_by not in STRATA_FIELDS:
        problems.append("Choose a field to stratify by from the list.")
        stratify_by = ""
    sample = _whole(data, "sample", "sample size", 1, 10_000_000, problems)
    seed = _whole(data, "seed", "seed", 0, MAX_SEED, problems)
    wave = _whole(data, "wave", "wave", 1, MAX_WAVE, problems)
    if stratify_by and sample is None:
        problems.append("A stratified sample needs a sample size.")
    return InvitationForm(
        topics=form_values(data, "topics", site.community.topics),
        user_groups=form_values(data, "user_groups", site.community.user_groups),
        regions=form_values(data, "regions", regions),
        languages=form_values(data, "languages", SUPPORTED_LANGUAGES),
        sample=sample,
        stratify_by=stratify_by,
        seed=0 if seed is None else seed,
        wave=1 if wave is None else wave,
        open_cells=str(data.get("open_cells", "")).strip() == "on",
        panel_members=bool(str(data.get("panel_members", "")).strip()),
        problems=problems,
    )


def steerable(survey: Survey) -> bool:
    """Whether invitations to ``survey`` can be steered to open quota cells."""
    return any(quota.steerable for quota in survey.quotas)


def add_routes(app: web.Application, site: AdminSite) -> None:
    guard = site.auth.guard

    def survey_of(request: web.Request) -> Survey:
        survey_id = request.match_info["survey"]
        if survey_id not in site.surveys:
            raise web.HTTPNotFound(text="There is no such survey.")
        return site.surveys[survey_id]

    async def fieldwork_page(
        request: web.Request,
        survey: Survey,
        form: InvitationForm,
        *,
        dry_run: InvitationRound | None = None,
        reach: list[str] | None = None,
        left_out: Mapping[str, int] | None = None,
        status: int = 200,
    ) -> web.Response:
        async with site.database.reading() as connection:
            rows = await disposition_rows(connection, survey)
            regions = await DashboardQueries(connection).region_names()
            quotas = await quota_report(connection, survey)
        report = build_report(survey.id, rows)
        lines = [("All invitations", report.overall)] + [
            (f"{name.replace('_', ' ')}: {value}", counts)
            for name, groups in report.by.items()
            for value, counts in groups.items()
        ]
        return render(
            request,
            "fieldwork.html",
            status=status,
            survey=survey,
            title=title_of(survey),
            lines=lines,
            dispositions=list(Disposition),
            rates=RATES,
            eligibility=report.overall.eligibility,
            reminders=survey.reminders,
            quotas=quotas,
            steerable=steerable(survey),
            form=form,
            community=site.community,
            regions=regions,
            languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LANGUAGES],
            strata_fields=STRATA_FIELDS,
            dry_run=dry_run,
            reach=reach,
            left_out=left_out or {},
            invited=request.query.get("invited"),
            # Every broadcast the round stored (one per arm with its own notice); ids only.
            broadcasts=[b for b in request.query.get("broadcast", "").split(",") if b.isdigit()],
        )

    async def page(request: web.Request) -> web.StreamResponse:
        return await fieldwork_page(request, survey_of(request), InvitationForm())

    async def send(request: web.Request) -> web.StreamResponse:
        """``POST .../fieldwork/invite``: ``action=preview`` (the dry run) or ``action=send``."""
        survey = survey_of(request)
        staff: StaffSession = request[STAFF_KEY]
        data = request[FORM_KEY]
        async with site.database.reading() as connection:
            regions = await DashboardQueries(connection).region_names()
        form = read_invitation(data, site, regions)
        form.open_cells = form.open_cells and steerable(survey)  # a forged tick on a survey without such quotas
        if form.problems:
            return await fieldwork_page(request, survey, form, status=422)
        now = site.clock()
        notice = invitation_notice(survey, template=site.invitation_template)
        dry_run = str(data.get("action", "preview")) != "send"
        async with site.database.transaction() as connection:
            among = None
            if form.panel_members:
                try:
                    among = await panel_members(connection, site.surveys.values(), survey)
                except FieldworkError as error:
                    form.problems.append(str(error))
                    return await fieldwork_page(request, survey, form, status=422)
            found = await invite(
                connection,
                survey,
                audience=form.audience,
                notice=notice,
                among=among,
                size=form.sample,
                stratify_by=form.stratify_by or None,
                seed=form.seed,
                wave=form.wave,
                quiet=site.quiet_hours,
                created_by=f"dashboard:{staff.username}",
                now=now,
                dry_run=dry_run,
                open_cells=form.open_cells,
            )
            if not dry_run:
                await record_invitation(
                    connection,
                    survey,
                    found,
                    actor=staff.username,
                    wave=form.wave,
                    seed=form.seed,
                    now=now,
                    open_cells=form.open_cells,
                )
            preview = await preview_audience(
                connection,
                form.audience,
                (),
                notice.default_language,
                silent_before=whatsapp_silent_before(notice, now),
            )
        if dry_run or not found.invited:
            if not dry_run:
                form.problems.append("Nobody is left to invite to this wave: nothing was sent.")
            return await fieldwork_page(
                request,
                survey,
                form,
                dry_run=found,
                reach=reach_lines(preview.reach),
                left_out=preview.reach.left_out,
                status=422 if form.problems else 200,
            )
        stored = ",".join(str(part) for part in found.broadcast_ids)
        log.info("dashboard: %s invited %d to %s (broadcast %s)", staff.username, found.invited, survey.id, stored)
        raise web.HTTPSeeOther(f"{PREFIX}/surveys/{survey.id}/fieldwork?invited={found.invited}&broadcast={stored}")

    app.router.add_get(f"{PREFIX}/surveys/{{survey}}/fieldwork", guard(page))
    app.router.add_post(f"{PREFIX}/surveys/{{survey}}/fieldwork/invite", guard(send, edit=True))
