"""A reverse proxy for tests: one webhook endpoint in front of several bot workers.

Each POST from the (fake) Bot API goes to a worker picked at random, and the worker's answer is
passed back, so the Bot API redelivers whatever a worker did not acknowledge (a killed worker
gives a 502). To exercise the workers' guarantees it also misbehaves on purpose, seeded:

- ``duplicate``: the same update is also POSTed at once to another worker (two workers receive
  it concurrently);
- ``late``: the same update is POSTed again a little later, after newer updates of the same
  chat (an out-of-order redelivery).

Only the first POST's answer is passed back; what the extra copies got is counted.
"""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class BalancerStats:
    forwarded: int = 0
    duplicates: int = 0
    late: int = 0
    failed: int = 0  # a worker did not answer (killed, not started): 502 to the Bot API
    by_worker: dict[str, int] = field(default_factory=dict)


class WebhookBalancer:
    """``http://127.0.0.1:PORT/telegram/webhook`` spreading updates over ``workers`` (base URLs)."""

    def __init__(
        self,
        workers: list[str],
        *,
        path: str = "/telegram/webhook",
        duplicate: float = 0.0,
        late: float = 0.0,
        late_delay: tuple[float, float] = (0.05, 0.6),
        seed: int = 8,
    ) -> None:
        self.workers = workers
        self.path = path
        self.duplicate = duplicate
        self.late = late
        self.late_delay = late_delay
        self.stats = BalancerStats()
        self._random = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._extra: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        for task in list(self._extra):
            task.cancel()
        await asyncio.gather(*self._extra, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> WebhookBalancer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _forward(self, worker: str, body: bytes, secret: str) -> int:
        assert self._session is not None
        headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
        try:
            async with self._session.post(worker + self.path, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            self.stats.failed += 1
            return 502

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[call-overload]
        self._extra.add(task)
        task.add_done_callback(self._extra.discard)

    async def _later(self, body: bytes, secret: str) -> None:
        await asyncio.sleep(self._random.uniform(*self.late_delay))
        await self._forward(self._random.choice(self.workers), body, secret)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        secret = request.headers.get(SECRET_HEADER, "")
        worker = self._random.choice(self.workers)
        self.stats.forwarded += 1
        self.stats.by_worker[worker] = self.stats.by_worker.get(worker, 0) + 1
        if len(self.workers) > 1 and self._random.random() < self.duplicate:
            self.stats.duplicates += 1
            other = self._random.choice([w for w in self.workers if w != worker])
            self._spawn(self._forward(other, body, secret))
        if self._random.random() < self.late:
            self.stats.late += 1
            self._spawn(self._later(body, secret))
        status = await self._forward(worker, body, secret)
        return web.Response(status=status, text="forwarded")
