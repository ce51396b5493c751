"""Conversation behaviour through the real engine and a real database (both backends)."""

from __future__ import annotations

import asyncio

from bot.core.engine import Engine
from handlers.messages import Outbound
from surveys.model import Survey
from testkit.conversations import answer_usat
from testkit.exports import export_rows
from testkit.fakes.engine_user import EngineUser


async def test_survey_answered_with_buttons_and_text_is_exported(engine: Engine, usat: Survey) -> None:
    await answer_usat(EngineUser(engine, "u1"))
    (row,) = await export_rows(engine, usat)
    assert row["complete"] == "true"
    assert {k: row[k] for k in [q.name for q in usat.data_questions]} == {
        "user_group": "media",
        "frequency": "weekly",
        "purposes": "research reporting",
        "topics": "prices population",
        "sat_relevance": "4",
        "sat_timeliness": "3",
        "sat_accessibility": "5",
        "sat_clarity": "2",
        "sat_overall": "4",
        "releases_used": "7",
        "last_use": "2026-03-31",
        "comments": "More regional data, please.",
    }


async def test_wrong_answer_gets_reason_and_same_question(engine: Engine) -> None:
    user = EngineUser(engine, "u2")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    await user.press("Daily")
    await user.press("Policy")
    await user.press("Done")
    await user.press("Health")
    await user.press("Done")
    for score in ("1", "1", "1", "1", "1"):
        await user.press(score)
    replies = await user.say("many")
    assert replies[0].text == "Please type a whole number, for example 12."
    assert "How many of our releases" in replies[1].text and replies[1].text.startswith("10/12")
    replies = await user.say("5000")
    assert replies[0].text == "The answer must be at most 1000."


async def test_stale_button_changes_nothing(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u3")
    await user.say("/survey usat2026")
    first_question = user.last_with_buttons()
    await user.press("Citizen")
    stale = next(b for b in first_question.flat_buttons if b.label == "Media")
    replies = await user.press_payload(stale.payload)
    assert replies[0].text == "That button belongs to an earlier question; please answer the question below."
    assert replies[1].text.startswith("2/12"), "the current question is shown again"
    forged = await user.press_payload("q:999:c:0")
    assert "earlier question" in forged[0].text
    (row,) = await export_rows(engine, usat)
    assert row["user_group"] == "citizen"


async def test_redelivered_update_is_applied_once_and_repeats_the_question(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u4")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    await user.say("1", update_key="fixed-1")  # frequency: daily
    again = await user.say("1", update_key="fixed-1")  # the same delivery again
    assert len(again) == 1 and again[0].text.startswith("3/12")
    (row,) = await export_rows(engine, usat)
    assert row["frequency"] == "daily" and row["purposes"] == ""


async def test_cancel_keeps_the_incomplete_response_and_restart_resumes_it(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u5")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    replies = await user.say("/cancel")
    assert "answers you gave are kept" in replies[0].text
    (row,) = await export_rows(engine, usat)
    assert (row["complete"], row["user_group"]) == ("false", "citizen")
    replies = await user.say("/start usat2026")  # the deep link
    assert replies[0].text.startswith("Welcome back")
    assert replies[-1].text.startswith("2/12")
    assert len(await export_rows(engine, usat)) == 1, "resuming does not create a second response"


async def test_a_completed_survey_is_not_answered_twice(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u6")
    await answer_usat(user)
    replies = await user.say("/survey usat2026")
    assert "already answered" in replies[0].text
    assert len(await export_rows(engine, usat)) == 1


async def test_optional_question_accepts_skip_word_and_button(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u7")
    await user.say("/survey usat2026")
    for label in ("Citizen", "Daily", "Policy", "Done", "Health", "Done", "1", "2", "3", "4", "5"):
        await user.press(label)
    await user.say("0")
    await user.press("Skip")
    replies = await user.say("skip")
    assert "Thank you" in replies[-1].text
    (row,) = await export_rows(engine, usat)
    assert (row["last_use"], row["comments"], row["complete"]) == ("", "", "true")


async def test_french_speaker_gets_french_survey_and_bot_messages(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u8", language="fr-FR")
    replies = await user.say("/start")
    assert replies[0].text.startswith("Bonjour")
    replies = await user.press("Enquête de satisfaction")
    assert replies[-1].text == "1/12 · Laquelle de ces catégories vous décrit le mieux ?"
    replies = await user.say("citoyen")
    assert replies[-1].text.startswith("2/12 · À quelle fréquence")
    (row,) = await export_rows(engine, usat)
    assert row["language"] == "fr" and row["user_group"] == "citizen"


async def test_select_multiple_ticks_replace_the_question_in_place(engine: Engine) -> None:
    user = EngineUser(engine, "u9")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    await user.press("Daily")
    replies = await user.press("Research")
    assert len(replies) == 1 and replies[0].replaces_pressed
    assert "✅ Research or teaching" in [b.label for b in replies[0].flat_buttons]
    replies = await user.press("Done")
    assert replies[0].replaces_pressed and replies[0].text.endswith("→ Research or teaching")
    assert replies[-1].text.startswith("4/12")


async def test_text_outside_a_survey_points_to_start(engine: Engine) -> None:
    user = EngineUser(engine, "u10")
    replies = await user.say("hello")
    assert "/start" in replies[0].text
    replies = await user.say("/nonsense")
    assert "/nonsense" in replies[0].text and "/help" in replies[0].text
    replies = await user.say("/survey nope")
    assert "no open survey called 'nope'" in replies[0].text


async def test_twenty_concurrent_users_each_get_their_own_row(engine: Engine, usat: Survey) -> None:
    users = [EngineUser(engine, f"c{i}") for i in range(20)]
    await asyncio.gather(*(answer_usat(user) for user in users))
    rows = await export_rows(engine, usat)
    assert len(rows) == 20 and len({r["respondent"] for r in rows}) == 20
    assert all(r["complete"] == "true" and r["topics"] == "prices population" for r in rows)


async def test_a_withdrawn_survey_ends_the_conversation_cleanly(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u11")
    await user.say("/survey usat2026")
    shipped = engine.surveys
    engine.surveys = {}  # the survey vanishes mid-answer: handled, not a crash
    replies = await user.say("Citizen")
    assert "no open survey" in replies[0].text
    engine.surveys = shipped
    replies = await user.say("/survey usat2026")
    assert replies[0].text.startswith("Welcome back")


async def test_an_unexpected_error_is_answered_and_nothing_is_half_stored(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "u12")
    await user.say("/survey usat2026")

    class ExplodingSurveys(dict[str, Survey]):
        def get(self, key: str, default: object = None) -> Survey:  # type: ignore[override]
            raise RuntimeError("a bug")

    original = engine.surveys
    engine.surveys = ExplodingSurveys(original)
    replies = await user.say("Citizen", update_key="boom-1")
    assert replies[0].text.startswith("Sorry")
    engine.surveys = original
    replies = await user.say("Citizen", update_key="boom-1")  # the same update, retried
    assert replies[-1].text.startswith("2/12"), "the failed attempt left no trace, not even its update id"
    (row,) = await export_rows(engine, usat)
    assert row["user_group"] == "citizen"


def _payload(message: Outbound, label: str) -> str:
    return next(b.payload for b in message.flat_buttons if label in b.label)


async def test_done_records_the_ticks_on_its_keyboard_even_after_a_late_tick_on_another_copy(
    engine: Engine, usat: Survey
) -> None:
    user = EngineUser(engine, "two-copies")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    await user.press("Daily")
    first_copy = user.last_with_buttons()  # 3/12, nothing ticked
    (second_copy,) = await user.say("/survey usat2026")  # "where am I?": the same question again
    (second_copy,) = await user.press_payload(_payload(second_copy, "Research"))
    (second_copy,) = await user.press_payload(_payload(second_copy, "News"))
    ticked = [b.label for b in second_copy.flat_buttons if b.label.startswith("✅")]
    assert ticked == ["✅ Research or teaching", "✅ News reporting"]
    # A tick pressed on the first copy arrives late: it unticks Research in the stored selection,
    # and its reply edits the first copy; the second copy still shows both ticks.
    await user.press_payload(_payload(first_copy, "Research"))
    replies = await user.press_payload(_payload(second_copy, "Done"))
    assert replies[-1].text.startswith("4/12")
    (row,) = await export_rows(engine, usat)
    assert row["purposes"] == "research reporting", "what the person saw when pressing Done is recorded"


async def test_a_done_without_ticks_records_the_stored_ones_and_a_forged_one_changes_nothing(
    engine: Engine, usat: Survey
) -> None:
    user = EngineUser(engine, "old-keyboard")
    await user.say("/survey usat2026")
    await user.press("Citizen")
    await user.press("Daily")
    (question,) = await user.press("Research")
    done = _payload(question, "Done")
    serial, op, mask = done.split(":")[1:]
    assert (op, mask) == ("d", "2"), "Done carries the ticks shown: Research is option 1 (bit 1)"
    replies = await user.press_payload(f"q:{serial}:d:{1 << 40}")  # an option the question does not have
    assert replies[-1].text.startswith("3/12"), "a forged Done is refused and the question shown again"
    replies = await user.press_payload(f"q:{serial}:d")  # a keyboard drawn before Done carried its ticks
    assert replies[-1].text.startswith("4/12")
    (row,) = await export_rows(engine, usat)
    assert row["purposes"] == "research"
