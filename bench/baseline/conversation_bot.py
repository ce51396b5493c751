"""The usual hand-written survey bot: a python-telegram-bot ``ConversationHandler`` keeping the
conversation and the answers in ``context.user_data``, persisted by ``PicklePersistence``.

It asks the shipped survey (``office/surveys/usat2026.yaml``: the questions, choices and the validation
rules of ``surveys.answers``, so both bots do the same work per answer) with the same texts and
buttons as Baraza, so the same simulated respondents drive both. What it does not do is what
Baraza is for: PicklePersistence writes the whole pickle at most every ``update_interval``
seconds (60 by default), so a ``kill -9`` loses up to a minute of acknowledged answers, and
there is no redelivery dedupe, no consent, no languages.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

from bench.baseline.serve import arguments, serve
from surveys.answers import InvalidAnswer, join_selection, parse_typed_answer, range_points
from surveys.loader import load_survey_directory
from surveys.model import Question, QuestionType
from testkit.telegram_harness import FORMS

SURVEY = load_survey_directory(FORMS)["usat2026"]
QUESTIONS = [q for q in SURVEY.questions if q.type is not QuestionType.NOTE]
ASKING = 1
OUTRO = "Thank you! Your answers have been recorded."


def label(text: object) -> str:
    return text.in_language("en", "en")  # type: ignore[attr-defined,no-any-return]


def question_message(index: int, selection: list[str]) -> tuple[str, InlineKeyboardMarkup]:
    question = QUESTIONS[index]
    lines = [f"{index + 1}/{len(QUESTIONS)} · {label(question.label)}"]
    if question.hint is not None:
        lines.append(label(question.hint))
    rows: list[list[InlineKeyboardButton]] = []
    if question.type is QuestionType.SELECT_ONE:
        rows = [[InlineKeyboardButton(label(c.label), callback_data=f"c:{i}")] for i, c in enumerate(question.choices)]
    elif question.type is QuestionType.SELECT_MULTIPLE:
        rows = [
            [InlineKeyboardButton(f"{'✅' if c.name in selection else '◻️'} {label(c.label)}", callback_data=f"t:{i}")]
            for i, c in enumerate(question.choices)
        ]
        rows.append([InlineKeyboardButton("Done ✔", callback_data="done")])
    elif question.type is QuestionType.RANGE:
        rows = [[InlineKeyboardButton(p, callback_data=f"r:{p}") for p in range_points(question)]]
    if not question.required:
        rows.append([InlineKeyboardButton("Skip ⏭", callback_data="skip")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE, problem: str | None = None) -> int:
    data = context.user_data
    assert data is not None and update.effective_chat is not None
    if problem is not None:
        await update.effective_chat.send_message(problem)
    if data["index"] >= len(QUESTIONS):
        context.bot_data.setdefault("responses", []).append(dict(data["answers"]))
        await update.effective_chat.send_message(OUTRO)
        return ConversationHandler.END
    text, markup = question_message(data["index"], data["selection"])
    await update.effective_chat.send_message(text, reply_markup=markup)
    return ASKING


def store(context: ContextTypes.DEFAULT_TYPE, question: Question, value: str) -> None:
    data = context.user_data
    assert data is not None
    data["answers"][question.name] = value
    data["index"] += 1
    data["selection"] = []


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    context.user_data.update(index=0, answers={}, selection=[])
    return await ask(update, context)


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None and context.user_data is not None
    question = QUESTIONS[context.user_data["index"]]
    text = update.message.text or ""
    if not question.required and text.strip().lower() == "skip":
        store(context, question, "")
        return await ask(update, context)
    try:
        store(context, question, parse_typed_answer(question, text))
    except InvalidAnswer as error:
        return await ask(update, context, f"Sorry, that is not a valid answer ({error.problem.code}).")
    return await ask(update, context)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    data = context.user_data
    assert query is not None and data is not None
    await query.answer()
    question = QUESTIONS[data["index"]]
    kind, _, value = (query.data or "").partition(":")
    if kind == "t":
        choice = question.choices[int(value)].name
        selection = data["selection"]
        selection.remove(choice) if choice in selection else selection.append(choice)
        text, markup = question_message(data["index"], selection)
        await query.edit_message_text(text, reply_markup=markup)
        return ASKING
    if kind == "done":
        if not data["selection"]:
            return await ask(update, context, "Please tick at least one.")
        store(context, question, join_selection(question, data["selection"]))
    elif kind == "c":
        store(context, question, question.choices[int(value)].name)
    elif kind == "r":
        store(context, question, value)
    elif kind == "skip":
        store(context, question, "")
    return await ask(update, context)


def setup(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={ASKING: [MessageHandler(filters.TEXT & ~filters.COMMAND, typed), CallbackQueryHandler(pressed)]},
            fallbacks=[CommandHandler("start", start)],
            name="survey",
            persistent=True,
        )
    )


if __name__ == "__main__":
    options = arguments(__doc__ or "")
    asyncio.run(serve(options, setup, PicklePersistence(options.pickle)))
