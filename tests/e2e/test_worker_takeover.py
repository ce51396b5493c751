"""Workers taking over from each other on PostgreSQL: ``baraza run`` worker processes in webhook
mode behind the balancer, the fake Bot API in this process.

- after ``kill -9`` of the only worker and a restart, the first reply goes out at once (the dead
  process's lease is ended by its successor, not waited out);
- a worker that starts while another one is sending a broadcast marks none of its messages
  ``unknown``;
- a ``retry_after`` (429) seen by one worker pauses every worker.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.channels.telegram.rate_limiter import UNTHROTTLED
from storage.broadcasts import SENT
from storage.database import Database
from surveys.model import Survey
from testkit.broadcasts import CPI, create_broadcast, delivery_rows, sends_per_chat, wait_until_finished
from testkit.databases import require_redis
from testkit.fakes.survey_respondent import is_progress_or_end
from testkit.fakes.telegram import FakeTelegramServer
from testkit.register import Person, add_people
from testkit.worker_harness import LastSeenRespondent, WorkerProcess, worker_fleet

pytestmark = pytest.mark.slow  # several worker processes

#: Seconds from a restarted worker being ready to its first reply: a behaviour threshold of the
#: issue is 1 s; asserted with room for a loaded 2-core machine (it was 5-9 s: the dead process's
#: lease was waited out, then a refill period of its chats).
FIRST_REPLY_BOUND = 3.0


async def test_after_kill_9_of_the_only_worker_a_restart_replies_at_once(
    postgres_url: str, usat: Survey, tmp_path: Path
) -> None:
    async with FakeTelegramServer(webhook_concurrency=16, webhook_retry_delay=0.1) as server:
        person = LastSeenRespondent(server.user(7300, first_name="T"), 0, usat, timeout=30)
        others = [LastSeenRespondent(server.user(7301 + i), i + 1, usat, timeout=30) for i in range(5)]
        # The deployment's own limits: 30/s for the bot, 1/s and a burst of 4 for a chat.
        async with worker_fleet(
            server, postgres_url, tmp_path, 1, messages_per_second=30, chat_messages_per_second=1, chat_burst=4
        ) as (_balancer, (worker,)):
            await asyncio.gather(*(r.open() for r in [person, *others]))
            await asyncio.gather(*(r.answer_until(2) for r in [person, *others]))
            worker.kill()
            await worker.start()  # systemd or compose starts it again; ready once it serves /healthz
            ready = time.monotonic()
            await person.user.send_text("/start usat2026")
            await person.user.wait_for_message(is_progress_or_end, timeout=30)
            first_reply = time.monotonic() - ready
            log = worker.tail()
    print(f"first reply {first_reply:.2f} s after the restarted worker was ready")
    assert first_reply < FIRST_REPLY_BOUND, log
    rates = "\n".join(line for line in log.splitlines() if "send rate replies" in line)
    assert "replies: 0 of" not in rates, f"the restarted worker was mute for a while:\n{rates}"


CONTACTS = 120
HELD = 6  # sends of the first worker held by the Bot API while the second one starts


async def test_a_worker_started_mid_broadcast_marks_nothing_of_the_others_unknown(
    postgres_url: str, tmp_path: Path
) -> None:
    database = Database(postgres_url)
    try:
        async with FakeTelegramServer(webhook_concurrency=16) as server:
            people = [Person(40_000 + i, user_group="media", topics=("prices",)) for i in range(CONTACTS)]
            for person in people:
                server.user(person.user_id)
            async with worker_fleet(server, postgres_url, tmp_path, 1) as (balancer, (_first,)):
                await add_people(database, people)
                # The first worker's next sends reach the Bot API but hang there: they stay 'sending'.
                server.delay_next("sendMessage", 4.0, count=HELD)
                broadcast_id, _ = await create_broadcast(database, CPI)
                await server.wait_for_calls("sendMessage", HELD)
                second = WorkerProcess(server, postgres_url, tmp_path, balancer.url, name="worker-late")
                try:
                    await second.start()  # its senders start while the first one's rows are in flight
                    balancer.workers.append(second.url)
                    summary = await wait_until_finished(database, broadcast_id, within=60)
                finally:
                    await second.stop()
                log = second.tail()
            rows = await delivery_rows(database, broadcast_id)
            received = sends_per_chat(server)
    finally:
        await database.dispose()
    assert "were being sent when the bot stopped" not in log, log
    assert {row.status for row in rows.values()} == {SENT}, "nothing of the first worker's became unknown"
    assert summary.count(SENT) == CONTACTS
    assert all(received[person.user_id] == 1 for person in people), "each notice once"


@pytest.mark.parametrize("rate_store", ["postgresql", "redis"])
async def test_a_retry_after_seen_by_one_worker_pauses_every_worker(
    rate_store: str, postgres_url: str, usat: Survey, tmp_path: Path
) -> None:
    redis_url = require_redis() if rate_store == "redis" else None
    retry_after = 3
    # Leases (PostgreSQL without Redis) spend each worker's share without a round trip per send:
    # the others learn of the pause at their next renewal, a heartbeat (1 s) later at most.
    learnt_within = 1.3 if rate_store == "postgresql" else 0.2
    async with FakeTelegramServer(webhook_concurrency=16, webhook_retry_delay=0.1) as server:
        respondents = [
            LastSeenRespondent(server.user(7400 + i, first_name=f"P{i}"), i, usat, timeout=60) for i in range(12)
        ]
        async with worker_fleet(server, postgres_url, tmp_path, 2, redis_url=redis_url, messages_per_second=25) as (
            _balancer,
            workers,
        ):
            await asyncio.gather(*(r.open() for r in respondents))
            await asyncio.gather(*(r.answer_until(1) for r in respondents))
            server.fail_next("sendMessage", 1, 429, retry_after=retry_after)
            await asyncio.gather(*(r.answer_until() for r in respondents))
            log = "\n".join(worker.tail() for worker in workers)
    (refused,) = [call for call in server.calls if call.fault is not None or call.status == 429]
    paused_from, paused_until = refused.time + learnt_within, refused.time + retry_after
    during = [
        call.time
        for call in server.calls
        if call.method not in UNTHROTTLED and call.ok and paused_from <= call.time < paused_until
    ]
    assert during == [], f"{len(during)} sends while every worker should have been waiting"
    after = [call for call in server.calls if call.method not in UNTHROTTLED and call.time >= paused_until]
    assert after, "sending went on after the pause"
    assert "Telegram asked to slow down" in log
