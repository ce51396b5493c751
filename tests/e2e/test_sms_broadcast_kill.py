"""``kill -9`` of ``baraza run`` in the middle of an SMS broadcast, then a restart.

The bot is a real ``baraza run`` child process sending by SMS through the fake Twilio gateway;
the broadcast is stored by a real ``baraza broadcast send`` process, which follows the progress
across the crash. After the restart every recipient has the notice exactly once, except at most
``concurrency`` rows marked ``unknown`` (in flight at the kill: they may or may not have arrived,
and are not resent): no duplicates, no silent losses.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from storage.broadcasts import SENT, UNKNOWN
from storage.database import Database
from testkit.broadcasts import assert_each_once_after_kill, delivery_rows, wait_until_finished
from testkit.fakes.sms import FakeTwilio
from testkit.register import Person, add_people
from testkit.sms_harness import SmsBotProcess
from testkit.telegram_harness import ROOT

pytestmark = pytest.mark.slow  # kill -9 of the bot process

CONTACTS = 200
RATE = 100  # messages a second: the broadcast takes about 2 s
CONCURRENCY = 8
HELD, HELD_SECONDS = 3, 0.5
NOTICE = """title: SMS kill test
default_language: en
text:
  en: The labour force survey results are out.
  fr: Les résultats de l'enquête sur la population active sont publiés.
audience: {topics: [labour]}
"""


async def test_kill_9_mid_sms_broadcast_then_restart_sends_each_notice_once(database_url: str, tmp_path: Path) -> None:
    chance = random.Random(20261207)
    start = 254_700_000_000
    people = [Person(start + i, "fr" if i % 3 == 0 else "en", "citizen", topics=("labour",), channel="sms")
              for i in range(CONTACTS)]  # fmt: skip
    outsiders = [Person(start + 5000 + i, "en", "citizen", topics=("prices",), channel="sms") for i in range(20)]
    database = Database(database_url)
    await database.migrate()
    async with FakeTwilio() as gateway:
        await add_people(database, people + outsiders)
        config = f"broadcast: {{messages_per_second: {RATE}, concurrency: {CONCURRENCY}}}\n"
        # The gateway allows more than the broadcast rate: the broadcast rate paces this test.
        bot = SmsBotProcess(gateway, database_url, tmp_path, sms="messages_per_second: 1000", extra_config=config)
        notice = tmp_path / "NOTICE.yaml"
        notice.write_text(NOTICE)
        await bot.start()
        try:
            command = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli.main", "--config", str(bot.config), "broadcast", "send", str(notice),
                cwd=ROOT,
                env={**bot.environment(), "BARAZA_LOG_LEVEL": "WARNING"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            kill_after = chance.randint(CONTACTS // 5, CONTACTS // 2)
            await gateway.wait_for_sends(kill_after)
            # The next few messages reach the gateway but its answers are late: the kill catches them in flight.
            gateway.hold_next(HELD, HELD_SECONDS)
            await gateway.wait_for_sends(len(gateway.sent) + HELD)
            bot.kill()
            await asyncio.sleep(0.2)  # requests already written before the kill are read by the gateway
            sent_before_kill = len(gateway.sent)
            await asyncio.sleep(HELD_SECONDS)
            assert len(gateway.sent) == sent_before_kill, "a killed bot sends nothing"
            await bot.start()
            output, _ = await asyncio.wait_for(command.communicate(), timeout=30)
            assert command.returncode == 0, output.decode()
            summary = await wait_until_finished(database, 1, within=30)
        finally:
            await bot.stop()
        received = Counter(int(sms.to.lstrip("+")) for sms in gateway.sent)
        rows = await delivery_rows(database, 1)
    await database.dispose()

    text = output.decode()
    assert f"audience: {CONTACTS} contact(s): topics labour" in text
    assert f"SMS: {CONTACTS} can receive it; {CONTACTS} recipients × " in text, text
    unknown = assert_each_once_after_kill(
        rows,
        received,
        audience={person.user_id for person in people},
        outsiders={person.user_id for person in outsiders},
        held=HELD,
        concurrency=CONCURRENCY,
        sent_before_kill=sent_before_kill,
    )
    assert summary.count(SENT) + summary.count(UNKNOWN) == CONTACTS and summary.status == "done"
    log = bot.log.read_text()
    if unknown:
        assert f"{len(unknown)} broadcast message(s) were being sent when the bot stopped: marked unknown" in log
