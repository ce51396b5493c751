"""The one driver of question flows: a survey, onboarding, and changing one profile field.

Each flow runs the pure runner (:mod:`surveys.runner`) the same way: read the answers so far,
apply what the person typed or pressed, show the problem or the next question, store what the
step recorded. What differs is held by a :class:`FlowStore`: which definition the conversation
runs, where its answers live (a survey response, the contact's register fields), how a
question is shown, and what happens after a step and when the definition went away.

Presses carry the prompt serial they were drawn with; a press whose serial is not the stored
one (an earlier prompt, or a forged payload) changes nothing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import replace
from functools import partial
from typing import ClassVar

from handlers import media, payloads, prompts
from handlers.context import Context
from handlers.flow_registry import Flow, Step
from handlers.messages import Outbound
from handlers.prompts import Answers
from storage.media import new_name
from storage.records import Conversation
from surveys import runner
from surveys.answers import Problem
from surveys.model import Question, Survey

Replies = list[Outbound]
#: What a step recorded: (question name, value) pairs, as :attr:`surveys.runner.Outcome.recorded`.
Recorded = tuple[tuple[str, str | None], ...]


class FlowStore(ABC):
    """Where one kind of question flow keeps its definition, answers and position."""

    #: The flow asks only the question it was opened at (changing one profile field): a step stores
    #: that answer alone and finishes the flow; the questions after it are not asked.
    asks_one: ClassVar[bool] = False

    @abstractmethod
    def definition(self, ctx: Context, conversation: Conversation) -> Survey | None:
        """The definition the conversation runs, or None when it (or its current question) went away."""

    @abstractmethod
    async def answers(self, ctx: Context, definition: Survey, conversation: Conversation) -> Answers:
        """The runner's answers so far for ``conversation``."""

    @abstractmethod
    def render(
        self, ctx: Context, survey: Survey, conversation: Conversation, answers: Answers, *, pressed: bool = False
    ) -> Outbound:
        """The message showing where ``conversation`` is; ``pressed``: it replaces the pressed message."""

    @abstractmethod
    async def record(self, ctx: Context, conversation: Conversation, recorded: Recorded) -> Context:
        """Store the answers a step recorded; the context with the contact as now stored."""

    @abstractmethod
    async def finish(self, ctx: Context, definition: Survey, conversation: Conversation, answers: Answers) -> Replies:
        """The flow is over: end the conversation and say what comes next."""

    @abstractmethod
    async def gone(self, ctx: Context, conversation: Conversation) -> Replies:
        """The definition went away under the conversation: resume or end it cleanly."""

    def confirms(self, definition: Survey) -> bool:
        """Whether the last answer leads to a summary to submit instead of the end."""
        return False

    async def summary_press(
        self, ctx: Context, definition: Survey, conversation: Conversation, press: payloads.PromptPress
    ) -> Replies | None:
        """A current press on the summary (flows with one), or None for a press it has no button for."""
        return None

    async def after_step(
        self,
        ctx: Context,
        definition: Survey,
        conversation: Conversation,
        outcome: runner.Outcome,
        answered: Question | None = None,
    ) -> Replies:
        """Store what the step (on ``answered``, if it answered a question) recorded and the new
        position ``conversation``; say what comes next."""
        if self.asks_one and answered is not None:
            ctx = await self.record(ctx, conversation, ((answered.name, dict(outcome.recorded).get(answered.name)),))
            return await self.finish(ctx, definition, conversation, dict(outcome.state.answers))
        if outcome.finished and not self.confirms(definition):
            return await self.last_step(ctx, definition, conversation, outcome)
        ctx = await self.record_and_save(ctx, conversation, outcome.recorded)
        answers = dict(outcome.state.answers)
        return [*step_notes(ctx, definition, outcome), self.render(ctx, definition, conversation, answers)]

    async def last_step(
        self, ctx: Context, definition: Survey, conversation: Conversation, outcome: runner.Outcome
    ) -> Replies:
        """The step that ends the flow: :meth:`record` its answers, then the notes before the end
        and :meth:`finish`. A store may do the recording and the finishing together."""
        ctx = await self.record(ctx, conversation, outcome.recorded)
        return step_notes(ctx, definition, outcome) + await self.finish(
            ctx, definition, conversation, dict(outcome.state.answers)
        )

    async def record_and_save(self, ctx: Context, conversation: Conversation, recorded: Recorded) -> Context:
        """:meth:`record` the answers, then store the conversation at its new position; the context
        with the contact as now stored."""
        ctx = await self.record(ctx, conversation, recorded)
        await ctx.repos.conversations.save(conversation, ctx.now)
        return ctx


def step_notes(ctx: Context, definition: Survey, outcome: runner.Outcome) -> Replies:
    """The notes a step passed on its way to the next question (or the end)."""
    here = prompts.answers_here(definition, outcome.state.current, dict(outcome.state.answers))
    return prompts.notes(ctx, definition, outcome.notes, here)


def question_flow(
    name: str, store: FlowStore, *, cancel: Step, resume: Step | None = None, back: Step | None = None
) -> Flow:
    """The registry entry of a question flow run by this driver through ``store``.

    ``resume`` defaults to showing the current question, ``back`` to the previous one.
    """
    return Flow(
        name,
        on_text=partial(on_text, store),
        cancel=cancel,
        resume=resume or partial(current_prompt, store),
        repeat=partial(current_prompt, store),
        on_prompt_press=partial(on_press, store),
        back=back or partial(_back, store),
        skip=partial(skip, store),
        on_media=partial(on_media, store),
    )


def new_conversation(
    ctx: Context,
    previous: Conversation | None,
    *,
    flow: str,
    current_question: str | None,
    selection: tuple[str, ...] = (),
    survey_id: str | None = None,
    response_id: str | None = None,
    arm: str | None = None,
) -> Conversation:
    """A conversation of ``flow`` waiting at ``current_question``; its prompt serial follows the
    ``previous`` one's, so that buttons of any earlier prompt are stale."""
    return Conversation(
        contact_id=ctx.contact.id,
        flow=flow,
        survey_id=survey_id,
        response_id=response_id,
        arm=arm,
        current_question=current_question,
        selection=selection,
        prompt_serial=(previous.prompt_serial if previous is not None else 0) + 1,
    )


async def opened(
    store: FlowStore,
    ctx: Context,
    definition: Survey,
    outcome: runner.Outcome,
    previous: Conversation | None,
    *,
    flow: str,
    survey_id: str | None = None,
    response_id: str | None = None,
    arm: str | None = None,
) -> Replies:
    """Start a conversation of ``flow`` at the runner's first ``outcome``: store what it recorded
    and ask the first question (or finish, when nothing is to be asked)."""
    state = outcome.state
    conversation = new_conversation(
        ctx,
        previous,
        flow=flow,
        current_question=state.current,
        selection=state.selection,
        survey_id=survey_id,
        response_id=response_id,
        arm=arm,
    )
    return await store.after_step(ctx, definition, conversation, outcome)


def moved(conversation: Conversation, outcome: runner.Outcome) -> Conversation:
    """``conversation`` at the outcome's position, with a new prompt serial."""
    # Built field by field rather than by replace(), which costs twice as much (once a step).
    return Conversation(
        contact_id=conversation.contact_id,
        flow=conversation.flow,
        survey_id=conversation.survey_id,
        response_id=conversation.response_id,
        current_question=outcome.state.current,
        selection=outcome.state.selection,
        prompt_serial=conversation.prompt_serial + 1,
        answers=None,  # the step is about to store answers: what was read with it gets old
        arm=conversation.arm,
    )


async def current_prompt(store: FlowStore, ctx: Context, conversation: Conversation) -> Replies:
    """Show again where the contact is (after /start, a reload or a redelivery)."""
    definition = store.definition(ctx, conversation)
    if definition is None:
        return await store.gone(ctx, conversation)
    return [store.render(ctx, definition, conversation, await store.answers(ctx, definition, conversation))]


async def on_text(store: FlowStore, ctx: Context, conversation: Conversation, text: str) -> Replies:
    """A typed answer (or the skip word) to the current question."""
    if conversation.current_question is None:
        definition = store.definition(ctx, conversation)
        if definition is None:
            return await store.gone(ctx, conversation)
        answers = await store.answers(ctx, definition, conversation)
        return [
            Outbound(text=ctx.texts("problem_press_not_expected")),
            store.render(ctx, definition, conversation, answers),
        ]
    definition = store.definition(ctx, conversation)
    question = runner.slot_of(definition, conversation.current_question) if definition is not None else None
    action = prompts.typed_action(ctx, text, question.question if question is not None else None)
    return await act(store, ctx, conversation, action, pressed=False)


async def on_media(store: FlowStore, ctx: Context, conversation: Conversation) -> Replies:
    """A shared location or a file sent as the answer to the current question.

    Usually the engine already kept the file for this question before the transaction
    (:mod:`handlers.media_intake`): its name is the answer. Otherwise the file is checked here
    (kind, size, a picture that decodes), scaled to the question's ``max_pixels`` and kept under
    a new name; the runner is asked first whether it takes the file (with the name it will have),
    so a refused file is never written. Either way the file is written before the answer is
    committed, so a crash in between leaves at most a file no answer names.
    """
    definition = store.definition(ctx, conversation)
    if definition is None:
        return await store.gone(ctx, conversation)
    answers = await store.answers(ctx, definition, conversation)
    inbound = ctx.inbound
    if conversation.current_question is None:  # the summary: a file or a place answers nothing there
        return [
            Outbound(text=ctx.texts("problem_press_not_expected")),
            store.render(ctx, definition, conversation, answers),
        ]
    if inbound.location is not None:
        place = inbound.location
        located = runner.GiveLocation(place.latitude, place.longitude, place.altitude, place.accuracy)
        return await act(store, ctx, conversation, located, pressed=False)
    upload = inbound.upload
    if upload is None:
        return await on_text(store, ctx, conversation, inbound.text or "")
    question = runner.question_at(definition, conversation.current_question)

    def refused(problem: Problem) -> Replies:
        return [
            Outbound(text=prompts.problem_text(ctx, definition, problem)),
            store.render(ctx, definition, conversation, answers),
        ]

    state = prompts.state_of(ctx, conversation, answers)
    survey_id = conversation.survey_id or definition.id
    kept = upload.kept
    if kept is not None and (kept.survey_id, kept.question) == (survey_id, question.name):
        # Checked, scaled and kept before this transaction (handlers/media_intake.py): the name is the answer.
        action = runner.GiveFile(kept.name, media.kind_of(upload))
        if runner.advance(definition, state, action).problem is not None and ctx.media is not None:
            await ctx.media.delete(survey_id, kept.name)
        return await act(store, ctx, conversation, action, pressed=False)
    trial = runner.advance(definition, state, runner.GiveFile(new_name("bin"), media.kind_of(upload)))
    if trial.problem is not None and trial.problem.code in ("expects_text", "survey_finished"):
        return refused(trial.problem)
    if ctx.media is None:
        return refused(Problem("media_unavailable"))
    problem = media.upload_problem(question, upload, ctx.media.max_bytes)
    if problem is not None:
        return refused(problem)
    ready = await asyncio.to_thread(media.prepared, question, upload)
    if isinstance(ready, Problem):
        return refused(ready)
    name = new_name(ready.extension)
    action = runner.GiveFile(name, media.kind_of(upload))
    if runner.advance(definition, state, action).problem is None:
        await ctx.media.put(survey_id, name, ready.content)
    return await act(store, ctx, conversation, action, pressed=False)


async def skip(store: FlowStore, ctx: Context, conversation: Conversation) -> Replies:
    """``/skip``: skip the current question if it is optional."""
    if conversation.current_question is None:
        return await current_prompt(store, ctx, conversation)
    return await act(store, ctx, conversation, runner.SkipQuestion(), pressed=False)


async def _back(store: FlowStore, ctx: Context, conversation: Conversation) -> Replies:
    """``/back``: the previous answered question, asked again."""
    definition = store.definition(ctx, conversation)
    if definition is None:
        return await store.gone(ctx, conversation)
    answers = await store.answers(ctx, definition, conversation)
    outcome = runner.back(definition, prompts.state_of(ctx, conversation, answers))
    if outcome.problem is not None:
        return [
            prompts.message(prompts.problem_said(ctx, definition, outcome.problem, answers)),
            store.render(ctx, definition, conversation, answers),
        ]
    went_back = moved(conversation, outcome)
    await ctx.repos.conversations.save(went_back, ctx.now)
    return [store.render(ctx, definition, went_back, await store.answers(ctx, definition, went_back))]


async def on_press(store: FlowStore, ctx: Context, conversation: Conversation, press: payloads.PromptPress) -> Replies:
    """A button press on a question or the summary; presses on earlier prompts change nothing."""
    definition = store.definition(ctx, conversation)
    if definition is None:
        return await store.gone(ctx, conversation)
    if press.serial == conversation.prompt_serial:
        if conversation.current_question is None:
            handled = await store.summary_press(ctx, definition, conversation, press)
            if handled is not None:
                return handled
        else:
            question = runner.question_at(definition, conversation.current_question)
            action = prompts.press_action(question, press)
            if action is not None:
                shown = prompts.shown_ticks(question, press)
                return await act(store, ctx, conversation, action, pressed=True, shown=shown)
    # A press on an earlier prompt (or a forged one): say so, and show where the user is.
    answers = await store.answers(ctx, definition, conversation)
    return [Outbound(text=ctx.texts("stale_button")), store.render(ctx, definition, conversation, answers)]


async def act(
    store: FlowStore,
    ctx: Context,
    conversation: Conversation,
    action: runner.Action,
    *,
    pressed: bool,
    shown: frozenset[str] | None = None,
) -> Replies:
    """Apply ``action`` to the current question; ``shown`` (for a Done) is the selection the
    person saw when they pressed it, which is the one recorded."""
    definition = store.definition(ctx, conversation)
    if definition is None or conversation.current_question is None:
        return await store.gone(ctx, conversation)
    answers = await store.answers(ctx, definition, conversation)
    key = conversation.current_question
    question = runner.question_at(definition, key)
    if shown is not None:
        visible = runner.visible_choices(question, prompts.state_of(ctx, conversation, answers), definition)
        conversation = replace(conversation, selection=tuple(c.name for c in visible if c.name in shown))
    outcome = runner.advance(definition, prompts.state_of(ctx, conversation, answers), action)
    if outcome.problem is not None:
        return [
            prompts.message(prompts.problem_said(ctx, definition, outcome.problem, answers)),
            store.render(ctx, definition, conversation, answers),
        ]
    if outcome.selection_changed:
        ticked = replace(conversation, selection=outcome.state.selection)
        await ctx.repos.conversations.save(ticked, ctx.now)
        return [store.render(ctx, definition, ticked, answers, pressed=True)]
    messages: Replies = []
    if pressed:
        # Close the answered question in place: its buttons go, the answer shows under it.
        messages.append(prompts.closing(ctx, definition, key, dict(outcome.recorded).get(key), answers))
    if outcome.feedback is not None:
        messages.append(prompts.feedback(ctx, definition, outcome.feedback, dict(outcome.state.answers)))
    return messages + await store.after_step(ctx, definition, moved(conversation, outcome), outcome, answered=question)
