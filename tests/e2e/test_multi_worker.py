"""Several ``baraza run`` workers on PostgreSQL behind one webhook endpoint.

The fake Bot API POSTs updates concurrently to a balancer that spreads them over the workers,
sends some to two workers at once and some again later (after newer updates of the same chat),
and one worker is killed with ``kill -9`` mid-run. Every answer must be stored exactly once,
nobody loses their place, and the fake Bot API never sees more sends in a second than the
configured rate, however many workers send.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.channels.telegram.rate_limiter import UNTHROTTLED
from surveys.model import Survey
from testkit.databases import require_redis
from testkit.exports import assert_export_matches, export_rows
from testkit.fakes.survey_respondent import PROGRESS
from testkit.fakes.telegram import FakeTelegramServer
from testkit.rates import most_in_any_window
from testkit.worker_harness import AcknowledgedRespondent, LastSeenRespondent, worker_fleet

pytestmark = pytest.mark.slow  # several worker processes

USERS = 12
RATE = 25  # messages a second for the whole bot


@pytest.mark.parametrize("rate_store", ["postgresql", "redis"])
async def test_two_workers_fed_duplicated_and_late_deliveries_store_each_answer_once_within_the_rate(
    rate_store: str, postgres_url: str, usat: Survey, tmp_path: Path
) -> None:
    redis_url = require_redis() if rate_store == "redis" else None
    async with FakeTelegramServer(webhook_concurrency=16, webhook_retry_delay=0.1) as server:
        respondents = [
            AcknowledgedRespondent(server.user(7000 + i, first_name=f"W{i}"), i, usat, timeout=60) for i in range(USERS)
        ]
        async with worker_fleet(
            server,
            postgres_url,
            tmp_path,
            2,
            duplicate=0.3,
            late=0.2,
            redis_url=redis_url,
            messages_per_second=RATE,
        ) as (balancer, workers):
            await asyncio.gather(*(r.open() for r in respondents))
            await asyncio.gather(*(r.answer_until() for r in respondents))
            for worker in workers:
                assert worker.running, worker.tail()
            log = "\n".join(worker.tail() for worker in workers)
    rows = await export_rows(postgres_url, usat)
    assert_export_matches(rows, respondents, usat)
    assert balancer.stats.duplicates > 0 and balancer.stats.late > 0, "the balancer really misbehaved"
    assert set(balancer.stats.by_worker) == {w.url for w in workers}, "both workers received updates"
    sends = [call.time for call in server.calls if call.method not in UNTHROTTLED and call.ok]
    assert len(sends) > 2 * RATE, "enough sends to exercise the rate"
    busiest = most_in_any_window(sends, 1.0)
    assert busiest <= RATE, f"{busiest} sends within one second, {RATE} allowed"
    assert "Traceback" not in log, log


async def test_killing_one_of_two_workers_loses_no_answer(postgres_url: str, usat: Survey, tmp_path: Path) -> None:
    async with FakeTelegramServer(webhook_concurrency=16, webhook_retry_delay=0.1) as server:
        respondents = [
            AcknowledgedRespondent(server.user(7100 + i, first_name=f"K{i}"), i, usat, timeout=60) for i in range(USERS)
        ]
        async with worker_fleet(server, postgres_url, tmp_path, 2, duplicate=0.2, late=0.1) as (balancer, workers):
            await asyncio.gather(*(r.open() for r in respondents))
            await asyncio.gather(*(r.answer_until(4) for r in respondents))
            # Answers in flight when the worker dies: Telegram (the fake) redelivers what got no 200.
            answering = asyncio.gather(*(r.answer_until(8) for r in respondents))
            await asyncio.sleep(0.2)
            workers[1].kill()
            await answering
            failed_while_dead = balancer.stats.failed
            await workers[1].start()  # it comes back (systemd / compose restart) and takes its share again
            await asyncio.gather(*(r.answer_until() for r in respondents))
    assert failed_while_dead > 0, "updates did reach the dead worker and were redelivered"
    assert_export_matches(await export_rows(postgres_url, usat), respondents, usat)


async def test_replies_of_a_chat_never_cross_between_workers_for_people_who_act_on_the_last_message(
    postgres_url: str, usat: Survey, tmp_path: Path
) -> None:
    # The chat's rate holds back the second message of a reply, so an answer given after the first
    # one reaches the other worker while the first still sends: the chat is held until then.
    async with FakeTelegramServer(webhook_concurrency=16, webhook_retry_delay=0.1) as server:
        respondents = [
            LastSeenRespondent(server.user(7200 + i, first_name=f"O{i}"), i, usat, timeout=60) for i in range(USERS)
        ]
        async with worker_fleet(
            server, postgres_url, tmp_path, 2, duplicate=0.3, late=0.2, chat_messages_per_second=4, chat_burst=1
        ) as (balancer, workers):
            await asyncio.gather(*(r.open() for r in respondents))
            await asyncio.gather(*(r.answer_until() for r in respondents))
            log = "\n".join(worker.tail() for worker in workers)
    assert balancer.stats.duplicates > 0 and balancer.stats.late > 0, "the balancer really misbehaved"
    for respondent in respondents:
        shown = [int(m.group(1)) for m in (PROGRESS.match(m.text or "") for m in respondent.user.bot_messages) if m]
        assert shown == sorted(shown), (
            f"respondent {respondent.index} saw an earlier question after a later one: {shown}"
        )
    assert_export_matches(await export_rows(postgres_url, usat), respondents, usat)
    assert "Traceback" not in log, log
