"""The SMS gateway's rate is shared by every worker through Redis, and kept per process otherwise."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings, SmsSettings
from bot.sending.shared_rate import SharedRateLimiter, send_limiters, sms_rate_limiter
from storage.database import Database
from testkit.databases import require_redis

SMS = SmsSettings(provider="twilio", account="AC1", secret="token", sender="+15005550006", messages_per_second=20.0)


async def test_the_sms_rate_is_shared_through_redis_and_lowered_by_the_largest_message(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    try:
        alone = await send_limiters(Settings(sms=SMS), database)
        assert sms_rate_limiter(Settings(sms=SMS), alone) is None, "one process: the channel's own bucket"
        redis_url = require_redis()
        settings = Settings(sms=SMS, redis_url=redis_url)
        shared = await send_limiters(settings, database)
        try:
            limiter = sms_rate_limiter(settings, shared)
            assert isinstance(limiter, SharedRateLimiter) and limiter.prefix == "baraza:rate:sms"
            assert limiter.refill + limiter.capacity <= 20 - 3 + 1, "room for a 3-segment message's tokens"
            await limiter.acquire(None)
        finally:
            await shared.close()
    finally:
        await database.dispose()
