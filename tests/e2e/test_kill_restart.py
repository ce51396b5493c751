"""``kill -9`` of a running bot mid-survey, then a restart: nothing lost, nothing duplicated,
everyone continues where they were. The bot is a real ``baraza run`` child process talking to
the fake Bot API; the database is a real SQLite file or PostgreSQL database."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from surveys.model import Survey
from testkit.exports import assert_export_matches, export_rows
from testkit.fakes.survey_respondent import Respondent, is_progress_or_end
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import BotProcess

pytestmark = pytest.mark.slow  # kill -9 of the bot process

USERS = 20
KILLS = 3
RECOVERY = {"answered": 0, "asked_where": 0}


async def test_kill_9_mid_survey_then_restart_loses_and_duplicates_nothing(
    database_url: str, usat: Survey, tmp_path: Path
) -> None:
    chance = random.Random(20261125)
    async with FakeTelegramServer() as server:
        respondents = [Respondent(server.user(6000 + i, first_name=f"R{i}"), i, usat) for i in range(USERS)]
        bot = BotProcess(server, database_url, tmp_path)
        await bot.start()
        try:
            await asyncio.gather(*(r.open() for r in respondents))
            for round_number in range(KILLS):
                # Everyone answers a few questions, each acknowledged by the bot's reply...
                target = [3 * (round_number + 1) + i % 3 for i in range(USERS)]
                await asyncio.gather(*(r.answer_until(t) for r, t in zip(respondents, target, strict=True)))
                acknowledged = {r.index: r.current_question() for r in respondents}
                # ...then half of them send one more answer, and the bot dies while those are in flight.
                in_flight = [r for r in respondents if not r.finished and chance.random() < 0.5]
                await asyncio.gather(*(r.fire_next() for r in in_flight))
                await asyncio.sleep(chance.uniform(0, 0.05))
                bot.kill()
                await bot.start()
                for respondent in respondents:
                    if respondent in in_flight:
                        continue
                    # Acknowledged users see what they saw before the crash and simply carry on.
                    assert respondent.current_question() is acknowledged[respondent.index]
                await asyncio.gather(*(recover(r) for r in in_flight))
            await asyncio.gather(*(r.answer_until() for r in respondents))
        finally:
            await bot.stop()
    print("recovery after kills:", RECOVERY)
    assert all(r.finished for r in respondents)
    assert_export_matches(await export_rows(database_url, usat), respondents, usat)


async def recover(respondent: Respondent) -> None:
    """A user whose last message got no answer waits a moment, then asks where they are (/start)."""
    try:
        await respondent.user.wait_for_message(is_progress_or_end, timeout=2)
        RECOVERY["answered"] += 1
    except TimeoutError:
        RECOVERY["asked_where"] += 1
        await respondent.open()
