"""The survey conversation: starting or resuming a response, confirming, finishing.

The question flow itself (asking, answering, going back) is :mod:`handlers.flow_driver`'s; this
module says where a survey keeps its answers (the response rows) and what its end is.

A conversation whose ``current_question`` is None is at the summary, waiting for the
respondent to submit (surveys with ``confirm: true``).

A wave of a panel (:mod:`surveys.panels`) reads the person's answers to the previous wave with
every step (only when it names them: ``${last_wave.x}``, ``prefill``) and gives them to the
runner beside the answers so far; its responses carry the pseudonym of the person's first wave.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import flow_driver, payloads, prompts, quotas, results
from handlers.context import Context
from handlers.flow_driver import FlowStore, Recorded, Replies
from handlers.messages import Button, Outbound
from handlers.prompts import Answers
from handlers.survey_feedback import offer as offer_feedback
from storage.invitations import InvitationRepository
from storage.panels import wave_responses
from storage.records import Conversation
from storage.repositories import new_response_id
from surveys import arrangement, panels, runner
from surveys.model import Question, Survey

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


async def last_wave_answers(ctx: Context, survey: Survey) -> dict[str, str | None]:
    """The contact's answers to the previous wave of ``survey``'s panel (question name -> value);
    empty when the survey names none of them, is no later wave, or the contact was not in it."""
    if not survey.last_wave_names:
        return {}
    previous = panels.previous_wave(ctx.surveys.values(), survey)
    if previous is None:
        return {}
    found = await wave_responses(ctx.repos.connection, ctx.contact.id, [previous.id])
    return dict(found[previous.id].answers) if previous.id in found else {}


async def respondent_of(ctx: Context, survey: Survey) -> str:
    """The pseudonym a new response of the contact carries: empty in an anonymous survey; in a
    wave of a panel, the one of the person's response to the earliest wave they answered (so that
    the waves link in exports); else the contact's own."""
    if survey.anonymous:
        return ""
    earlier = [wave.id for wave in panels.earlier_waves(ctx.surveys.values(), survey)]
    if earlier:
        found = await wave_responses(ctx.repos.connection, ctx.contact.id, earlier)
        first = next((found[wave_id].respondent for wave_id in earlier if wave_id in found), "")
        if first:
            return first
    return ctx.pseudonymize(ctx.contact.channel, ctx.contact.user_key)


class ResponseStore(FlowStore):
    """A survey's answers are the rows of its response; it ends by completing the response."""

    def definition(self, ctx: Context, conversation: Conversation) -> Survey | None:
        """The conversation's survey as its response is asked it (shuffled groups in the
        response's order, its experiment arm's wording), if it still exists and still has the
        current question."""
        survey = ctx.surveys.get(conversation.survey_id or "")
        if survey is None:
            return None
        if conversation.current_question is not None and not runner.has_key(survey, conversation.current_question):
            return None
        return arrangement.for_response(survey, conversation.response_id or "", conversation.arm)

    async def answers(self, ctx: Context, definition: Survey, conversation: Conversation) -> Answers:
        """The stored answers of the conversation's response. A conversation read from the database
        brings them along (no handler writes answers before reading them), else they are read."""
        assert conversation.response_id is not None
        if conversation.answers is not None:
            stored = dict(conversation.answers)
        else:
            stored = dict(await ctx.repos.responses.answers(conversation.response_id))
        if definition.last_wave_names:
            return panels.with_last_wave(stored, await last_wave_answers(ctx, definition))
        return stored

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

    async def record_and_save(self, ctx: Context, conversation: Conversation, recorded: Recorded) -> Context:
        # The answers and the conversation together: one statement on PostgreSQL (one answer a step).
        await ctx.repos.conversations.save(conversation, ctx.now, recorded)
        return ctx

    def confirms(self, definition: Survey) -> bool:
        return definition.confirm

    async def after_step(
        self,
        ctx: Context,
        definition: Survey,
        conversation: Conversation,
        outcome: runner.Outcome,
        answered: Question | None = None,
    ) -> Replies:
        """As every flow, except that a person whose quota cell became known and is full is
        screened out (their answers so far are kept)."""
        response_id = conversation.response_id
        if (
            definition.quotas
            and response_id is not None
            and await quotas.screens_out(ctx, definition, response_id, dict(outcome.state.answers))
        ):
            await self.record(ctx, conversation, outcome.recorded)
            return await quotas.screen_out(ctx, definition, response_id)
        return await super().after_step(ctx, definition, conversation, outcome, answered)

    async def last_step(
        self, ctx: Context, definition: Survey, conversation: Conversation, outcome: runner.Outcome
    ) -> Replies:
        # The step's answers are stored by finish(), with the completion: one statement on
        # PostgreSQL. Recording them does not change the context (nor what the notes read).
        notes = flow_driver.step_notes(ctx, definition, outcome)
        return notes + await self.finish(ctx, definition, conversation, dict(outcome.state.answers), outcome.recorded)

    async def finish(
        self, ctx: Context, definition: Survey, conversation: Conversation, answers: Answers, recorded: Recorded = ()
    ) -> Replies:
        """Store the answers the last step ``recorded``, complete the response (with the quiz
        score), end the conversation, thank; or screen the person out (their answers kept) when
        their quota cell filled while they were answering."""
        assert conversation.response_id is not None
        if await quotas.recorded_cell_full(ctx, definition, conversation.response_id):
            await self.record(ctx, conversation, recorded)
            return await quotas.screen_out(ctx, definition, conversation.response_id)
        score = runner.score(definition, answers) if definition.is_quiz else None
        await ctx.repos.responses.finish(
            conversation.response_id,
            ctx.contact.id,
            definition.id,
            ctx.now,
            score=score[0] if score else None,
            recorded=recorded,
        )
        messages: Replies = []
        if score is not None:
            messages.append(Outbound(text=ctx.texts("quiz_score", score=str(score[0]), total=str(score[1]))))
        if definition.outro is not None:
            messages.append(
                prompts.message(prompts.said(ctx, definition, definition.outro, answers), "\n\n", ctx.texts("finished"))
            )
        else:
            messages.append(Outbound(text=ctx.texts("finished")))
        # Published results can be seen at once ("See the results"; /results later).
        button = await results.results_button(ctx, definition)
        if button is not None:
            messages[-1] = replace(messages[-1], buttons=(*messages[-1].buttons, (button,)))
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
        last_wave = await last_wave_answers(ctx, survey)
        survey = arrangement.for_response(survey, conversation.response_id or "", conversation.arm)
        outcome = runner.resume(
            survey, answers, ctx.now.date(), now=ctx.now, profile=register_profile(ctx), last_wave=last_wave
        )
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


async def experiment_arm(ctx: Context, survey: Survey, respondent: str) -> str | None:
    """The experiment arm of a new response: the one the contact was invited in, else one drawn
    from their pseudonym ``respondent`` (stable for them; an anonymous response draws at random)."""
    if survey.experiment is None:
        return None
    if not survey.anonymous:
        invited = await InvitationRepository(ctx.repos.connection).invited_arm(ctx.contact.id, survey.id)
        if survey.experiment.arm(invited) is not None:
            return invited
    return arrangement.arm_for(survey.experiment, respondent or new_response_id())


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
    # Read together (one query), though a start uses the completions only without a response to resume.
    stored, completed = await ctx.repos.responses.latest_and_completed(ctx.contact.id, survey.id)
    latest = None if survey.anonymous else stored
    messages: list[Outbound] = []
    if latest is not None and not latest.complete and survey.quotas and await quotas.is_screened_out(ctx, latest.id):
        return [quotas.screened_out_message(ctx, survey)]
    if latest is not None and not latest.complete and await quotas.recorded_cell_full(ctx, survey, latest.id):
        return await quotas.screen_out(ctx, survey, latest.id)
    last_wave = await last_wave_answers(ctx, survey)
    if latest is not None and not latest.complete:
        answers = dict(await ctx.repos.responses.answers(latest.id))
        response_id, arm = latest.id, latest.arm
        shown = arrangement.for_response(survey, response_id, arm)
        outcome = runner.resume(
            shown, answers, ctx.now.date(), now=ctx.now, profile=register_profile(ctx), last_wave=last_wave
        )
        messages.append(Outbound(text=ctx.texts("resuming")))
    else:
        if completed >= survey.max_responses_per_user:
            return [Outbound(text=ctx.texts("already_answered", title=survey_title(ctx, survey)))]
        respondent = await respondent_of(ctx, survey)
        response_id, arm = new_response_id(), await experiment_arm(ctx, survey, respondent)
        shown = arrangement.for_response(survey, response_id, arm)
        outcome = runner.start(shown, ctx.now.date(), now=ctx.now, profile=register_profile(ctx), last_wave=last_wave)
        await ctx.repos.responses.create(
            survey_id=survey.id,
            survey_version=survey.version,
            contact=None if survey.anonymous else ctx.contact,
            channel=ctx.contact.channel,
            respondent=respondent,
            language=prompts.survey_language(ctx, survey),
            now=ctx.now,
            arm=arm,
            response_id=response_id,
        )
        intro = ("\n\n", prompts.said(ctx, survey, survey.intro)) if survey.intro else ()
        messages.append(prompts.message(survey_title(ctx, survey), *intro, "\n\n", ctx.texts("survey_start_hint")))
    opened = await flow_driver.opened(
        STORE, ctx, shown, outcome, current, flow=FLOW, survey_id=survey.id, response_id=response_id, arm=arm
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
