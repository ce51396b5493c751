"""Several ``baraza run`` worker processes in webhook mode behind one endpoint, as in production
(see ``deploy/``): shared by the multi-worker tests and ``bench/workers.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from testkit.fakes.survey_respondent import PROGRESS, Respondent, is_progress_or_end, is_question
from testkit.fakes.telegram import ChatMessage, FakeTelegramServer
from testkit.fakes.webhook_balancer import WebhookBalancer
from testkit.telegram_harness import FORMS, ChildBotProcess, bot_environment, free_port

WEBHOOK_SECRET = "multi-worker-secret"


class WorkerProcess(ChildBotProcess):
    """One ``baraza run`` child process receiving Telegram updates by webhook on its own port."""

    def __init__(
        self,
        server: FakeTelegramServer,
        database_url: str,
        workdir: Path,
        webhook_url: str,
        *,
        name: str = "worker",
        redis_url: str | None = None,
        messages_per_second: float = 10_000,
        chat_messages_per_second: float = 10_000,
        chat_burst: int = 1000,
        forms: Path = FORMS,
    ) -> None:
        self.server = server
        self.database_url = database_url
        self.webhook_url = webhook_url
        self.redis_url = redis_url
        self.name = name
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{name}.log"
        self.config = workdir / f"{name}.yaml"
        self.config.write_text(
            f"surveys: {{directory: {forms}}}\n"
            "telegram:\n"
            "  mode: webhook\n"
            f"  rate_limit: {{messages_per_second: {messages_per_second}, "
            f"chat_messages_per_second: {chat_messages_per_second}, chat_burst: {chat_burst}}}\n"
            f"web: {{host: 127.0.0.1, port: {self.port}}}\n"
            "flood: {enabled: false}\n"  # simulated users answer faster than people
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **bot_environment(self.server, self.database_url),
            "BARAZA_WEB_PORT": str(self.port),
            "BARAZA_TELEGRAM_MODE": "webhook",
            "BARAZA_TELEGRAM_WEBHOOK_URL": self.webhook_url,
            "BARAZA_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        if self.redis_url:
            env["BARAZA_REDIS_URL"] = self.redis_url
        process = self.launch(env)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
            for _ in range(600):
                if process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {process.returncode}:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with client.get(self.url + "/healthz") as response:
                        if response.status == 200 and self.server.webhook_url == self.webhook_url:
                            return
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not start:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextlib.asynccontextmanager
async def worker_fleet(
    server: FakeTelegramServer,
    database_url: str,
    workdir: Path,
    count: int,
    *,
    duplicate: float = 0.0,
    late: float = 0.0,
    redis_url: str | None = None,
    **limits: float,
) -> AsyncIterator[tuple[WebhookBalancer, list[WorkerProcess]]]:
    """``count`` workers behind a :class:`WebhookBalancer`; the first one migrates the database."""
    balancer = WebhookBalancer([], duplicate=duplicate, late=late)
    await balancer.start()
    workers = [
        WorkerProcess(server, database_url, workdir, balancer.url, name=f"worker{i}", redis_url=redis_url, **limits)  # type: ignore[arg-type]
        for i in range(count)
    ]
    try:
        await workers[0].start()  # migrates an empty database before the others look at it
        await asyncio.gather(*(worker.start() for worker in workers[1:]))
        balancer.workers.extend(worker.url for worker in workers)
        yield balancer, workers
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))
        await balancer.stop()


class LastSeenRespondent(Respondent):
    """A respondent that acts again once the Bot API got its 200 for the last action, on whatever
    question is newest on screen then, as a person does: no telling which message answers what.

    In webhook mode a worker answers 200 only after the update is committed and its replies are
    sent, so when the 200 comes every reply to the action has arrived, unless a reply of an
    earlier action is still held back somewhere: then it arrives after newer ones (a crossing),
    the respondent answers the wrong question, and the export no longer matches its plan.
    """

    async def _wait(self, acted_on: ChatMessage | None = None) -> ChatMessage:
        server, update_id = self.user._server, self.user._last_update_id
        assert update_id is not None

        def newest() -> ChatMessage | None:
            return next((m for m in reversed(self.user.bot_messages) if is_progress_or_end(m)), None)

        def answered() -> bool:
            return server.is_delivered(update_id) and newest() is not None

        if not await server._signal.wait_for(answered, self.timeout):
            raise TimeoutError(f"update {update_id} was not acknowledged within {self.timeout} s")
        shown = newest()
        assert shown is not None
        return shown


class AcknowledgedRespondent(Respondent):
    """A respondent that acts again only once the Bot API got its 200 for the last action and the
    bot's answer to that action is on screen, and then reads that answer as the current question.

    In webhook mode a worker answers 200 only after the update is committed and its replies are
    sent. Behind a balancer that also hands updates to a second worker, at once or later, other
    messages cross the answer: the 200 can come from the worker that found the update already
    handled (it repeats the current prompt as a new message) while the worker that handled it
    still sends its replies, the last of them (often the question) held back by the chat's send
    rate; so the person goes on, and that question arrives after the answer to their next
    action. Like a person who knows what they just did, this respondent waits for the change its
    action makes (its tick shown; a later question after an answer it expects accepted, the same
    one again after an answer it expects refused) and goes on from there, not from whatever
    message came last. (The README's "Several workers" section says what users may see then.)
    """

    _looked_at: tuple[ChatMessage | None, int, int, str | None, bool | None, int | None, bool] | None = None
    _screen: ChatMessage | None = None

    def _look(self, message: ChatMessage | None, toggle: str | None = None, *, moves_on: bool = False) -> None:
        edits = message.edit_count if message else 0
        ticked = _ticked(message, toggle) if message is not None and toggle is not None else None
        number = _question_number(message) if message is not None else None
        self._looked_at = (message, edits, len(self.user.bot_messages), toggle, ticked, number, moves_on)

    async def _wait(self, acted_on: ChatMessage | None = None) -> ChatMessage:
        server, update_id = self.user._server, self.user._last_update_id
        assert update_id is not None

        def answered() -> bool:
            return server.is_delivered(update_id) and self._seen() is not None

        if not await server._signal.wait_for(answered, self.timeout):
            raise TimeoutError(f"update {update_id} was not acknowledged and answered within {self.timeout} s")
        seen = self._seen()
        assert seen is not None
        self._screen = seen
        return seen

    def _seen(self) -> ChatMessage | None:
        """The bot's answer to the last action on screen, None while it does not show: the
        acted-on question if it was edited since (and still is a question or the end), else the
        newest question or end sent since, that fits the action: for a tick, one showing the
        pressed choice changed; for an answer expected accepted, a later question or the end;
        for one expected refused, the same question again."""
        assert self._looked_at is not None, "act through step() or open()"
        acted_on, edits, count, toggle, ticked, number, moves_on = self._looked_at
        edited = acted_on is not None and acted_on.edit_count > edits and is_progress_or_end(acted_on)
        since = [m for m in reversed(self.user.bot_messages[count:]) if is_progress_or_end(m)]
        candidates = ([acted_on] if edited and acted_on is not None else []) + since
        if toggle is not None:
            return next((m for m in candidates if _ticked(m, toggle) not in (None, ticked)), None)
        if number is None:
            return next(iter(candidates), None)
        if moves_on:
            return next((m for m in candidates if (_question_number(m) or number + 1) > number), None)
        return next((m for m in candidates if _question_number(m) == number), None)

    def current_question(self) -> ChatMessage | None:
        screen = self._screen
        return screen if screen is not None and is_question(screen) else None

    def _refreshed(self, message: ChatMessage) -> ChatMessage:
        return self._screen if self._screen is not None and is_question(self._screen) else message


def _ticked(message: ChatMessage, toggle: str) -> bool | None:
    """Whether the tick button with callback data ``toggle`` shows ticked; None if absent."""
    for row in message.buttons:
        for text, data in row:
            if data == toggle:
                return text.startswith("✅")
    return None


def _question_number(message: ChatMessage) -> int | None:
    """The question's number from its progress line ("3/12 · ..."); None for the end."""
    progress = PROGRESS.match(message.text or "")
    return int(progress.group(1)) if progress else None
