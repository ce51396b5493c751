"""Replies over a flaky Bot API (the real python-telegram-bot Application, the fake server).

A reply that certainly did not reach Telegram (a 5xx answer, no connection) is sent again; one
that may have arrived (a timeout, a connection lost after the request was read) is not, so the
user never sees a reply twice. Random faults of the fake server are deterministic by seed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer, RandomFaults
from testkit.telegram_harness import bot_in_process


def help_replies(server: FakeTelegramServer, user_id: int) -> int:
    user = server.users[user_id]
    return sum(1 for m in user.bot_messages if (m.text or "").startswith("What I can do"))


@pytest.mark.parametrize("code", [500, 502, 503])
async def test_a_reply_answered_with_a_server_error_is_sent_again_and_arrives_once(
    server: FakeTelegramServer, tmp_path: Path, code: int
) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(81)
        server.fail_next("sendMessage", count=2, error_code=code)
        await user.send_text("/help")
        await user.wait_for_message(timeout=15)
        statuses = [call.status for call in server.calls_to("sendMessage")]
        assert statuses == [code, code, 200]
        assert help_replies(server, 81) == 1


async def test_a_reply_whose_answer_was_lost_is_not_sent_twice(server: FakeTelegramServer, tmp_path: Path) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(83)
        # Telegram shows the message but the connection drops before the bot hears back.
        server.drop_next("sendMessage", after_processing=True)
        await user.send_text_and_wait("/help", timeout=15)
        await user.wait_until_quiet(quiet=1.0, timeout=15, require_reply=False)
        assert help_replies(server, 83) == 1
        assert len(server.calls_to("sendMessage")) == 1


def test_random_faults_are_reproducible_and_limited_to_the_chosen_methods() -> None:
    first = RandomFaults(0.3, methods=("sendMessage",), seed=5)
    second = RandomFaults(0.3, methods=("sendMessage",), seed=5)
    picks = [first.pick("sendMessage") for _ in range(200)]
    assert picks == [second.pick("sendMessage") for _ in range(200)]
    assert 30 <= sum(p is not None for p in picks) <= 90
    assert set(picks) - {None} == {"429", "5xx", "timeout", "drop", "drop_after"}
    assert all(first.pick("getMe") is None for _ in range(50))
    polls = RandomFaults(1.0, methods=("getUpdates",), seed=1)
    assert "timeout" not in {polls.pick("getUpdates") for _ in range(100)}, "a long poll is never 'held'"
    with pytest.raises(ValueError, match="unknown fault kinds"):
        RandomFaults(0.1, kinds=("meteor",))


async def test_a_reply_that_could_not_go_does_not_hold_back_the_next_question(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    async with bot_in_process(server, await copy_migrated_sqlite(tmp_path / "db.sqlite")):
        user = server.user(85)
        first = await user.send_text_and_wait("/survey usat2026", timeout=15)
        assert first[-1].text.startswith("1/12")
        # Closing the pressed question in place fails (the connection drops; it may have
        # arrived, so it is not retried): the next question must still come.
        server.drop_next("editMessageText")
        await user.press("Citizen", first[-1].message_id)
        nxt = await user.wait_for_message(lambda m: (m.text or "").startswith("2/12"), timeout=15)
        assert nxt.text.startswith("2/12")
