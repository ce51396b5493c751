"""No identifiable data in logs: an end-to-end run over the fake Bot API (survey, odd input, a
flood, forged presses, a shared phone number, a deletion) logs no Telegram user or chat id, no
phone number, no message text and not the pseudonym key."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.core.flood import FloodSettings
from testkit import paths
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import PSEUDONYM_KEY, bot_in_process

pytestmark = pytest.mark.slow  # the whole bot over the fake Bot API, with a flood
HOSTILE_FORMS = paths.HOSTILE_FORMS
USER_ID = 730_194_562_81  # distinctive digits, easy to find in any log line
PHONE = "+254711987654"
SECRET_WORDS = ["zanzibar-comment-91", "my-last-words-77", "free-text-question-55", "flood-text-33"]


async def test_an_end_to_end_run_logs_no_ids_phone_numbers_texts_or_the_pseudonym_key(
    server: FakeTelegramServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Production level (INFO, httpx at WARNING as bot/cli/main.py sets it); Baraza's own code at DEBUG.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.WARNING, logger="httpx")
    for package in ("bot", "handlers", "storage", "surveys", "catalogue", "results"):
        caplog.set_level(logging.DEBUG, logger=package)
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with bot_in_process(
        server, url, forms=HOSTILE_FORMS, flood=FloodSettings(enabled=True, burst=5, per_second=2.0)
    ):
        user = server.user(USER_ID, first_name="Amina", last_name="Odhiambo", username="amina_o")
        await user.send_text_and_wait("/survey hostile")
        await user.send_text_and_wait(SECRET_WORDS[0])
        await user.send_raw_message(contact={"phone_number": PHONE, "first_name": "Amina", "user_id": USER_ID})
        await user.wait_until_quiet()
        await user.press_raw("q:999:c:1", user.bot_messages[-1].message_id)
        await user.wait_until_quiet(require_reply=False)
        await user.press("Blue")
        await user.wait_until_quiet()
        await user.send_text_and_wait(SECRET_WORDS[1])
        await user.send_text_and_wait(SECRET_WORDS[2])
        for _ in range(12):
            await user.send_text(SECRET_WORDS[3])
        await user.wait_until_quiet(require_reply=False, quiet=0.5)
        await asyncio.sleep(3)  # the flood is over
        await user.send_text_and_wait("/delete_my_data")
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    assert any(r.name == "bot.core.flood" for r in caplog.records), "the run did log (the flood warning at least)"
    forbidden = [str(USER_ID), PHONE, PHONE.lstrip("+"), "Odhiambo", "amina_o", PSEUDONYM_KEY, *SECRET_WORDS]
    found = [value for value in forbidden if value in logged]
    assert not found, f"identifiable data in the logs: {found}"
