"""How fast the web chat's sender pushes notices to browsers (Web Push: aes128gcm encryption and
a VAPID JWT per message, by pywebpush), against the fake push service on 127.0.0.1.

    .venv/bin/python -m bench.webpush_send [--people 200]

Each person is a web-chat contact with one subscribed browser; the sender is called once per
person, one after the other (the durable sender's own concurrency and rate are not involved).
The fake push service decrypts and checks every message in the same process, so the rate is a
floor for the sending side.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import describe
from bot.channels.webchat.push import WebPushSender, parse_subscription
from bot.keys import new_vapid_key
from handlers.messages import Outbound
from storage.database import Database
from storage.repositories import Repositories
from testkit.fakes.webpush import fake_push_service
from testkit.register import Person, add_people


async def run(people: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'push.db'}")
        await database.migrate()
        try:
            async with fake_push_service() as service:
                ids = await add_people(database, [Person(n, channel="web") for n in range(1, people + 1)])
                async with database.transaction() as connection:
                    repository = Repositories(connection).webpush
                    for contact_id in ids.values():
                        subscription = parse_subscription(service.subscribe(), insecure_loopback=True)
                        await repository.subscribe(contact_id, subscription, datetime.now(UTC))
                sender = WebPushSender(database, new_vapid_key(), subject="mailto:bench@example.org")
                message = Outbound(text="Consumer prices rose 7.1% in October 2026. Details: /latest CPI")
                started = time.perf_counter()
                for user_id in ids:
                    await sender.send(str(user_id), message, cache_key="bench")
                elapsed = time.perf_counter() - started
                assert len(service.received) == people and not service.refusals
        finally:
            await database.dispose()
    print(f"web push: {people} notices to {people} browsers in {elapsed:.2f} s = {people / elapsed:.0f}/s")
    print(describe())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    asyncio.run(run(parser.parse_args().people))


if __name__ == "__main__":
    main()
