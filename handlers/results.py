"""Survey results back to the people who answered: publishing them (staff), and ``/results`` and
the "See the results" button in the chat.

Publishing and withdrawing are written once here, for the dashboard (and any command that comes):
the report is computed from the stored responses (:mod:`results`), kept as the publication's
snapshot and audited in the same transaction. In the chat a respondent who completed a survey whose
results are public and published gets the headline figures (every question's overall figures, with
the same suppression as the page) as text and the first choice question as a chart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from catalogue.charts import ShareBar, share_chart
from common.errors import BarazaError
from handlers.context import Community, Context
from handlers.messages import Attachment, Button, Outbound
from handlers.texts import LANGUAGE_NAMES, Texts
from results.report import CHOICE, NOT_GIVEN, Group, QuestionResults, ResultsReport, build_report
from storage import audit
from storage.database import Database
from storage.results import Publication, ResultsRepository
from surveys.markup import plain_text
from surveys.model import LocalizedText, Survey
from surveys.results_settings import RESPONDENT_FIELDS

#: The "See the results" button: ``results:SURVEY``.
PAYLOAD_PREFIX = "results:"
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "sms": "SMS", "ussd": "USSD"}


class ResultsError(BarazaError):
    """Results that cannot be published (the survey does not allow it)."""


# --------------------------------------------------------------------------- staff actions


async def compute_report(database: Database, survey: Survey) -> ResultsReport:
    """The survey's results from its completed responses now (the staff preview)."""
    async with database.reading() as connection:
        people, as_of = await ResultsRepository(connection).respondents(survey)
    return await asyncio.to_thread(build_report, survey, people, as_of)


async def publish_results(database: Database, survey: Survey, *, actor: str, now: datetime) -> ResultsReport:
    """Compute the survey's results and publish them as a snapshot (audited); refused unless the
    survey file says ``results: {public: true}``."""
    if not survey.results.public:
        raise ResultsError(
            f"the results of {survey.id} are not public: set results: {{public: true}} in {survey.source}"
        )
    async with database.transaction() as connection:
        repository = ResultsRepository(connection)
        people, as_of = await repository.respondents(survey)
        report = await asyncio.to_thread(build_report, survey, people, as_of)
        await repository.publish(survey, report, actor=actor, now=now)
        await audit.record(
            connection,
            actor=actor,
            action=audit.RESULTS_PUBLISHED,
            now=now,
            target=survey.id,
            details={
                "respondents": report.respondents,
                "weighted": report.weighted,
                "data_as_of": report.data_as_of.isoformat() if report.data_as_of else None,
            },
        )
    return report


async def withdraw_results(database: Database, survey_id: str, *, actor: str, now: datetime) -> bool:
    """Take the survey's results off the public page (audited); False if they were not published."""
    async with database.transaction() as connection:
        withdrawn = await ResultsRepository(connection).withdraw(survey_id, actor=actor, now=now)
        if withdrawn:
            await audit.record(connection, actor=actor, action=audit.RESULTS_WITHDRAWN, now=now, target=survey_id)
    return withdrawn


# --------------------------------------------------------------------------- words of a report


@dataclass(frozen=True)
class ResultsWords:
    """A report's labels and figures in one language: the survey's own labels (in the survey's
    language nearest to it), the office's names of user groups and regions, the bot's texts."""

    survey: Survey
    community: Community
    language: str

    @property
    def texts(self) -> Texts:
        return Texts(self.language)

    def _text(self, text: LocalizedText) -> str:
        return plain_text(text.in_language(self.survey.language_for(self.language), self.survey.default_language))

    def title(self) -> str:
        return self._text(self.survey.title)

    def question(self, name: str) -> str:
        """The question's label; its name when the survey file no longer has it (a snapshot keeps
        the questions of the day it was published)."""
        if not self.survey.has_question(name):
            return name
        return self._text(self.survey.question(name).label)

    def choice(self, question: str, choice: str) -> str:
        found = self.survey.question(question).choice(choice) if self.survey.has_question(question) else None
        return choice if found is None else self._text(found.label)

    def dimension(self, name: str) -> str:
        return self.texts(f"results_dimension_{name}")

    def category(self, dimension: str, code: str) -> str:
        """A breakdown's category as people read it: the onboarding's label of a user group or
        region, a language's own name, a channel's name; "Not given" for none."""
        if code == NOT_GIVEN:
            return self.texts("results_not_given")
        if dimension == "language":
            return LANGUAGE_NAMES.get(code, code)
        if dimension == "channel":
            return self.texts("results_channel_web") if code in ("web", "webchat") else CHANNEL_NAMES.get(code, code)
        onboarding = self.community.onboarding
        if onboarding is not None and onboarding.has_question(dimension):
            found = onboarding.question(dimension).choice(code)
            if found is not None:
                language = onboarding.language_for(self.language)
                return plain_text(found.label.in_language(language, onboarding.default_language))
        return code.replace("_", " ").capitalize()

    def percent(self, share: float | None) -> str:
        return "–" if share is None else format_percent(share, locale=self.language)

    def number(self, value: float | None) -> str:
        return "–" if value is None else format_decimal(round(value, 1), locale=self.language)

    def interval(self, low: float | None, high: float | None, *, percent: bool = True) -> str:
        shown: Callable[[float | None], str] = self.percent if percent else self.number
        return self.texts("results_interval", low=shown(low), high=shown(high))

    def day(self, moment: datetime | None) -> str:
        return "–" if moment is None else format_date(moment.date(), format="long", locale=self.language)

    def respondents(self, report: ResultsReport) -> str:
        return self.texts("results_respondents", count=format_decimal(report.respondents, locale=self.language))

    def weighting(self, report: ResultsReport) -> str:
        """Whether the figures are weighted, and to what (the survey's margin dimensions)."""
        if not report.weighted:
            return self.texts("results_unweighted")
        names = [
            self.dimension(name) if name in RESPONDENT_FIELDS else self.question(name).lower()
            for name in self.survey.results.margin_dimensions()
        ]
        return self.texts("results_weighted", dimensions=", ".join(names))

    def group_lines(self, question: QuestionResults, group: Group) -> list[str]:
        """One line per figure of ``group`` (hidden ones say so)."""
        hidden = self.texts("results_hidden")
        if question.kind != CHOICE:
            if group.hidden:
                return [hidden]
            return [
                self.texts(
                    "results_mean",
                    mean=self.number(group.mean),
                    interval=self.interval(group.low, group.high, percent=False),
                    median=self.number(group.median),
                )
            ]
        lines = []
        for cell in group.cells:
            label = self.choice(question.name, cell.choice)
            if cell.hidden:
                lines.append(f"• {label}: {hidden}")
            else:
                lines.append(f"• {label}: {self.percent(cell.share)} ({self.interval(cell.low, cell.high)})")
        return lines

    def bars(self, question: QuestionResults) -> list[ShareBar]:
        """The overall figures of a choice question as chart bars (a withheld figure has no share)."""
        return [
            ShareBar(self.choice(question.name, cell.choice), cell.share, cell.low, cell.high, self.percent(cell.share))
            for cell in question.overall.cells
        ]

    def chart_alt(self, question: QuestionResults) -> str:
        """What the chart of ``question`` shows, in words: its title and every figure."""
        return f"{self.question(question.name)}. " + "; ".join(
            line.removeprefix("• ") for line in self.group_lines(question, question.overall)
        )


# --------------------------------------------------------------------------- in the chat


async def results_button(ctx: Context, survey: Survey) -> Button | None:
    """The "See the results" button at the end of ``survey``, when its results are published."""
    if not survey.results.public or not await ctx.repos.results.published_surveys([survey.id]):
        return None
    return Button(ctx.texts("results_button"), PAYLOAD_PREFIX + survey.id)


async def results_command(ctx: Context, argument: str) -> list[Outbound]:
    """``/results [SURVEY]``: the published results of a survey the person completed (without an
    argument: the latest published of the surveys they completed)."""
    wanted = argument.strip()
    answered = [
        survey_id
        for survey_id, survey in ctx.surveys.items()
        if survey.results.public and (not wanted or survey_id == wanted)
        if await ctx.repos.participations.completed(ctx.contact.id, survey_id) > 0
    ]
    publications = [
        publication
        for survey_id in sorted(await ctx.repos.results.published_surveys(answered))
        if (publication := await ctx.repos.results.current(survey_id)) is not None
    ]
    if not publications:
        return [Outbound(text=ctx.texts("results_none"))]
    latest = max(publications, key=lambda publication: publication.published_at)
    return await headline(ResultsWords(ctx.surveys[latest.survey_id], ctx.community, ctx.language), latest)


async def on_press(ctx: Context, payload: str) -> list[Outbound]:
    """The "See the results" button: the same as ``/results SURVEY``."""
    return await results_command(ctx, payload.removeprefix(PAYLOAD_PREFIX))


async def headline(words: ResultsWords, publication: Publication) -> list[Outbound]:
    """The published results as one text (every question's overall figures) and, when the survey
    has a choice question, its chart as a picture."""
    report = publication.report
    texts = words.texts
    lines = [
        texts("results_header", title=words.title()),
        f"{words.respondents(report)} {texts('results_data_as_of', date=words.day(report.data_as_of))}",
        words.weighting(report),
    ]
    for question in report.questions:
        lines += ["", words.question(question.name), *words.group_lines(question, question.overall)]
    if any(cell.hidden for question in report.questions for cell in question.overall.cells):
        lines += ["", texts("results_protected", min_cell=str(report.min_cell))]
    messages = [Outbound(text="\n".join(lines))]
    first = next((q for q in report.questions if q.kind == CHOICE and not q.overall.hidden), None)
    if first is not None:
        title = words.question(first.name)
        png = await asyncio.to_thread(share_chart, words.bars(first), title, texts("results_hidden"))
        alt = words.chart_alt(first)
        messages.append(
            Outbound(
                text=title,
                attachment=Attachment("image", f"{report.survey_id}-{first.name}.png", png, "image/png", alt=alt),
            )
        )
    return messages
