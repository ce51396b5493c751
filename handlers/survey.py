"""The survey conversation: starting or resuming a response, confirming, finishing.

The question flow itself (asking, answering, going back) is :mod:`handlers.flow_driver`'s; this
module says where a survey keeps its answers (the response rows) and what its end is.

A conversation whose ``current_question`` is None is at the summary, waiting for the
respondent to submit (surveys with ``confirm: true``).
"""

from __future__ import annotations

from handlers import flow_driver, payloads, prompts
from handlers.context import Context
from handlers.flow_driver import FlowStore, Recorded, Replies
from handlers.messages import Button, Outbound
from handlers.prompts import Answers
from handlers.survey_feedback import offer as offer_feedback
from storage.records import Conversation
from surveys import runner
from surveys.model import Survey

FLOW = "survey"


def survey_title(ctx: Context, survey: Survey) -> str:
    return prompts.text_of(ctx, survey, survey.title)


def availability_problem(ctx: Context, survey: Survey) -> str | None:
    """Why the survey cannot be offered to this contact today, or None."""
    today = ctx.now.date()
    title = survey_title(ctx, survey)
    if survey.opens is not None and today < survey.opens:
        return ctx.texts("survey_not_open", title=title, date=survey.opens.isoformat())
    if survey.closes is not None and today > survey.closes:
        return ctx.texts("survey_closed", title=title, date=survey.closes.isoformat())
    if survey.audience is not None and not ctx.in_audience(survey.audience):
        return ctx.texts("not_in_audience", title=title)
    return None


async def survey_list(ctx: Context) -> Outbound:
    """The surveys open to this contact today, as buttons; one the contact has already answered as
    often as it allows (``max_responses_per_user``) is not listed: it is finished for them."""
    offered = []
    for survey_id, definition in sorted(ctx.surveys.items()):
        if availability_problem(ctx, definition) is not None:
            continue
        if await ctx.repos.participations.completed(ctx.contact.id, survey_id) >= definition.max_responses_per_user:
            continue
        offered.append((survey_id, definition))
    if not offered:
        return Outbound(text=ctx.texts("no_surveys"))
    buttons = tuple(
        (Button(survey_title(ctx, definition), payloads.start_survey(survey_id)),) for survey_id, definition in offered
    )
    return Outbound(text=ctx.texts("surveys_open"), buttons=buttons)


def register_profile(ctx: Context) -> dict[str, str | None]:
    """What the register knows of the contact, for questions that take their answer from it
    (``from_profile``); nothing without consent (the register keeps nothing then)."""
    if not ctx.contact.has_consented:
        return {}
    return {**ctx.profile(), "organisation": ctx.contact.organisation}


class ResponseStore(FlowStore):
    """A survey's answers are the rows of its response; it ends by completing the response."""

    def definition(self, ctx: Context, conversation: Conversation) -> Survey | None:
        """The conversation's survey, if it still exists and still has the current question."""
        survey = ctx.surveys.get(conversation.survey_id or "")
        if survey is None:
            return None
        if conversation.current_question is not None and not runner.has_key(survey, conversation.current_question):
            return None
        return survey

    async def answers(self, ctx: Context, definition: Survey, conversation: Conversation) -> Answers:
        """The stored answers of the conversation's response. A conversation read from the database
        brings them along (no handler writes answers before reading them), else they are read."""
        assert conversation.response_id is not None
        if conversation.answers is not None:
            return dict(conversation.answers)
        return dict(await ctx.repos.responses.answers(conversation.response_id))

    def render(
        self, ctx: Context, survey: Survey, conversation: Conversation, answers: Answers, *, pressed: bool = False
    ) -> Outbound:
        """The current question, or the summary when the survey waits to be submitted."""
        if conversation.current_question is None:
            return prompts.render_summary(ctx, survey, conversation, answers)
        return prompts.render_question(ctx, survey, conversation, answers, replaces_pressed=pressed)

    async def record(self, ctx: Context, conversation: Conversation, recorded: Recorded) -> Context:
        assert conversation.response_id is not None
        for name, value in recorded:
            await ctx.repos.responses.record_answer(conversation.response_id, name, value, ctx.now)
        return ctx

    def confirms(self, definition: Survey) -> bool:
        return definition.confirm

    async def finish(self, ctx: Context, definition: Survey, conversation: Conversation, answers: Answers) -> Replies:
        """Complete the response (with the quiz score), end the conversation, thank."""
        assert conversation.response_id is not None
        score = runner.score(definition, answers) if definition.is_quiz else None
        await ctx.repos.responses.complete(conversation.response_id, ctx.now, score=score[0] if score else None)
        await ctx.repos.participations.record_completion(ctx.contact.id, definition.id, ctx.now)
        await ctx.repos.conversations.end(ctx.contact.id)
        messages: Replies = []
        if score is not None:
            messages.append(Outbound(text=ctx.texts("quiz_score", score=str(score[0]), total=str(score[1]))))
        if definition.outro is not None:
            messages.append(
                prompts.message(prompts.said(ctx, definition, definition.outro, answers), "\n\n", ctx.texts("finished"))
            )
        else:
            messages.append(Outbound(text=ctx.texts("finished")))
        if definition.offer_feedback:
            messages.append(offer_feedback(ctx, definition))
        return messages

    async def gone(self, ctx: Context, conversation: Conversation) -> Replies:
        """The survey was withdrawn or its current question removed: resume or end cleanly."""
        survey = ctx.surveys.get(conversation.survey_id or "")
        if survey is None:
            await ctx.repos.conversations.end(ctx.contact.id)
            return [Outbound(text=ctx.texts("unknown_survey", survey=conversation.survey_id or ""))]
        answers = await self.answers(ctx, survey, conversation)
        outcome = runner.resume(survey, answers, ctx.now.date(), now=ctx.now, profile=register_profile(ctx))
        return await self.after_step(ctx, survey, flow_driver.moved(conversation, outcome), outcome)

    async def summary_press(
        self, ctx: Context, definition: Survey, conversation: Conversation, press: payloads.PromptPress
    ) -> Replies | None:
        answers = await self.answers(ctx, definition, conversation)
        if press.op == payloads.SUBMIT:
            submitted = Outbound(text=ctx.texts("submitted"), replaces_pressed=True)
            return [submitted, *await self.finish(ctx, definition, conversation, answers)]
        if press.op == payloads.EDIT:
            return [prompts.render_question_list(ctx, definition, conversation, answers)]
        state = prompts.state_of(ctx, conversation, answers)
        answered = runner.answered_slots(definition, state)
        if press.op == payloads.GO_TO and press.index is not None and 0 <= press.index < len(answered):
            outcome = runner.go_to(definition, state, answered[press.index][0].key)
            if outcome.problem is None:
                there = flow_driver.moved(conversation, outcome)
                await ctx.repos.conversations.save(there, ctx.now)
                return [prompts.render_question(ctx, definition, there, answers, replaces_pressed=True)]
        return None


STORE = ResponseStore()


async def begin(ctx: Context, survey: Survey) -> list[Outbound]:
    """Start ``survey`` for the contact, or resume their unfinished response to it."""
    current = await ctx.repos.conversations.get(ctx.contact.id)
    if current is not None and current.flow == FLOW and current.survey_id == survey.id:
        if ctx.inbound.newer_waiting:
            # "Where am I?" while a newer message of the chat waits: its reply shows where the
            # person is. Showing the current question first would show one that the newer
            # message may answer, and the person would answer it again (for the next question).
            return []
        return await flow_driver.current_prompt(STORE, ctx, current)
    unavailable = availability_problem(ctx, survey)
    if unavailable is not None:
        return [Outbound(text=unavailable)]
    latest = None if survey.anonymous else await ctx.repos.responses.latest_for(ctx.contact.id, survey.id)
    messages: list[Outbound] = []
    if latest is not None and not latest.complete:
        answers = dict(await ctx.repos.responses.answers(latest.id))
        outcome = runner.resume(survey, answers, ctx.now.date(), now=ctx.now, profile=register_profile(ctx))
        response_id = latest.id
        messages.append(Outbound(text=ctx.texts("resuming")))
    else:
        completed = await ctx.repos.participations.completed(ctx.contact.id, survey.id)
        if completed >= survey.max_responses_per_user:
            return [Outbound(text=ctx.texts("already_answered", title=survey_title(ctx, survey)))]
        outcome = runner.start(survey, ctx.now.date(), now=ctx.now, profile=register_profile(ctx))
        response_id = await ctx.repos.responses.create(
            survey_id=survey.id,
            survey_version=survey.version,
            contact=None if survey.anonymous else ctx.contact,
            channel=ctx.contact.channel,
            respondent="" if survey.anonymous else ctx.pseudonymize(ctx.contact.channel, ctx.contact.user_key),
            language=prompts.survey_language(ctx, survey),
            now=ctx.now,
        )
        intro = ("\n\n", prompts.said(ctx, survey, survey.intro)) if survey.intro else ()
        messages.append(prompts.message(survey_title(ctx, survey), *intro, "\n\n", ctx.texts("survey_start_hint")))
    opened = await flow_driver.opened(
        STORE, ctx, survey, outcome, current, flow=FLOW, survey_id=survey.id, response_id=response_id
    )
    return messages + opened


async def resume(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Where the contact is, under the title of the survey they are in."""
    definition = ctx.surveys.get(conversation.survey_id or "")
    header = [Outbound(text=ctx.texts("in_survey", title=survey_title(ctx, definition)))] if definition else []
    return header + await flow_driver.current_prompt(STORE, ctx, conversation)


async def cancel(ctx: Context, conversation: Conversation) -> list[Outbound]:
    """Leave the survey; the response stays stored as incomplete."""
    await ctx.repos.conversations.end(ctx.contact.id)
    return [Outbound(text=ctx.texts("cancelled"))]
