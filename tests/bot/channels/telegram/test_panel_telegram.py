"""Two waves of a panel over Telegram: the real python-telegram-bot Application against the fake
Bot API. The same Telegram user answers wave 1, then in wave 2 reads their wave-1 income, keeps
it with the Keep button, and the two waves' exports carry the same pseudonym."""

from __future__ import annotations

from pathlib import Path

from surveys.loader import load_survey_directory
from testkit.databases import copy_migrated_sqlite
from testkit.exports import export_rows
from testkit.fakes.telegram import FakeTelegramServer
from testkit.panel_waves import write_waves
from testkit.telegram_harness import bot_in_process


async def test_a_telegram_user_answers_two_waves_and_keeps_the_last_income(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    write_waves(tmp_path / "forms")
    url = await copy_migrated_sqlite(tmp_path / "db.sqlite")
    async with bot_in_process(server, url, forms=tmp_path / "forms"):
        user = server.user(4343, language_code="en")
        await user.send_text_and_wait("/survey lfs2026w1")
        await user.press_and_wait("Yes")
        await user.send_text_and_wait("52000")
        await user.press_and_wait("Trade")

        replies = await user.send_text_and_wait("/survey lfs2026w2")
        assert "Welcome back. Three months ago you earned 52000 in Trade." in [m.text for m in replies]
        replies = await user.press_and_wait("Yes")
        question = replies[-1]
        assert "What was your income last month? (Last time: 52000)" in (question.text or "")
        assert question.button_texts == ["Keep: 52000"]
        await user.press_and_wait("Keep: 52000")
        await user.press_and_wait("Keep: Trade")

    surveys = load_survey_directory(tmp_path / "forms")
    (first,) = await export_rows(url, surveys["lfs2026w1"])
    (second,) = await export_rows(url, surveys["lfs2026w2"])
    assert first["respondent"] == second["respondent"] != ""
    assert (second["wave"], second["income"], second["sector"], second["income_change"], second["complete"]) == (
        "2",
        "52000",
        "trade",
        "0",
        "true",
    )
