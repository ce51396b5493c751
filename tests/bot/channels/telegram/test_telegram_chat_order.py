"""The updates of one Telegram chat are handled, and answered, in the order they arrived, even
when a Bot API call is slow: otherwise an older question can end up as the newest message (and
the answer typed for it is stored against the next question), or a text sent after a button press
is taken before the press."""

from __future__ import annotations

from surveys.model import Survey
from testkit.exports import export_rows
from testkit.fakes.survey_respondent import is_question
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_in_process


async def test_a_slow_reply_is_not_overtaken_by_the_reply_to_a_later_update(
    server: FakeTelegramServer, database_url: str
) -> None:
    async with bot_in_process(server, database_url):
        user = server.user(4201)
        await user.send_text_and_wait("/survey usat2026")
        assert user.bot_messages[-1].text.startswith("1/12")
        # The reply to a wrong answer meets three 502s: the bot sends it again after 0.2, 0.4, 0.8 s.
        server.fail_next("sendMessage", count=3, error_code=502)
        await user.send_text("banana")  # refused: the reason, then question 1 again
        await user.send_text("Citizen")  # typed right after: the answer to question 1
        first = await user.wait_for_message(is_question)
        second = await user.wait_for_message(is_question)
        shown = [(first.text or "")[:4], (second.text or "")[:4]]
        assert shown == ["1/12", "2/12"], "question 2 must come after the copy of question 1"
        assert (user.bot_messages[-1].text or "").startswith("2/12"), "the newest message is where the bot is"


async def test_a_text_sent_right_after_a_press_is_handled_after_the_press(
    server: FakeTelegramServer, database_url: str, usat: Survey
) -> None:
    async with bot_in_process(server, database_url):
        user = server.user(4202)
        await user.send_text_and_wait("/survey usat2026")
        question = user.bot_messages[-1]
        server.delay_next("answerCallbackQuery", 1.0)  # stopping the button's spinner is slow
        await user.press("Citizen", question.message_id)
        await user.send_text("2")  # the answer to question 2 (Weekly), typed at once
        await user.wait_for_message(lambda m: (m.text or "").startswith("3/12"))
    (row,) = await export_rows(database_url, usat)
    assert (row["user_group"], row["frequency"]) == ("citizen", "weekly")


async def test_a_redelivered_update_followed_by_a_newer_one_gets_no_reply(
    server: FakeTelegramServer, database_url: str, usat: Survey
) -> None:
    """After a crash Telegram hands out again the updates the bot had not confirmed, together with
    the person's next message. Repeating the question for the old copy would show question 2 after
    the person answered it; they would answer it again, and that answer would be stored for
    question 3."""
    async with bot_in_process(server, database_url):
        user = server.user(4203)
        await user.send_text_and_wait("/survey usat2026")
        answered = await user.send_text("Citizen")
        await user.wait_for_message(lambda m: (m.text or "").startswith("2/12"))
        await user.wait_until_quiet()
        before = len(user.bot_messages)
        await server.redeliver(answered)  # an unconfirmed update, handed out again...
        await user.send_text("2")  # ...in the same batch as the answer to question 2 (Weekly)
        await user.wait_for_message(lambda m: (m.text or "").startswith("3/12"))
        await user.wait_until_quiet()
        later = [(m.text or "").split(" · ")[0] for m in user.bot_messages[before:]]
        assert later == ["3/12"], "no copy of question 2 after it was answered"
    (row,) = await export_rows(database_url, usat)
    assert (row["user_group"], row["frequency"]) == ("citizen", "weekly")


async def test_where_am_i_followed_by_an_answer_in_the_same_batch_shows_only_the_next_question(
    server: FakeTelegramServer, database_url: str, usat: Survey
) -> None:
    """The person asked where they were (no reply came: the bot was down), then answered the
    question a late reply showed; the bot gets both at once. The question they are at, shown for
    the first, would arrive after their answer: they would answer it again, for question 3."""
    async with bot_in_process(server, database_url):
        user = server.user(4204)
        await user.send_text_and_wait("/survey usat2026")
        await user.send_text_and_wait("Citizen")
        before = len(user.bot_messages)
        await user.send_text("/start usat2026")
        await user.send_text("2")  # in the same getUpdates batch
        await user.wait_for_message(lambda m: (m.text or "").startswith("3/12"))
        await user.wait_until_quiet()
        later = [(m.text or "").split(" · ")[0] for m in user.bot_messages[before:]]
        assert later == ["3/12"], "no copy of question 2 after it was answered"
    (row,) = await export_rows(database_url, usat)
    assert (row["user_group"], row["frequency"]) == ("citizen", "weekly")
