"""``FakeTelegramServer``: an in-process Bot API server speaking the real HTTP protocol.

The real python-telegram-bot ``Application`` is pointed at it with
``ApplicationBuilder().base_url(server.base_url).base_file_url(server.base_file_url)``.
Everything runs on the test's event loop; waiting is event-driven (see :class:`Signal`).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from aiohttp import web

from testkit.rates import hold_collections, release_collections

from .chaos import RandomFaults
from .chats import ChatMethods, commands_key
from .model import JSONDict, RecordedCall, Signal, WebhookDelivery
from .protocol import ApiError, CallContext, Handler, default_description, json_response, ok_payload, read_params
from .updates import UpdateQueue
from .user import FakeUser

_DEFAULT_BOT_ID = 123456789
#: Calls that act on one chat: Telegram applies those of a chat in the order it received them.
_CHAT_CALLS = frozenset(
    {
        "sendmessage",
        "editmessagetext",
        "editmessagecaption",
        "editmessagereplymarkup",
        "deletemessage",
        "sendphoto",
        "senddocument",
        "sendchataction",
    }
)


@dataclass
class _Fault:
    kind: Literal["error", "drop", "delay"]
    remaining: int
    error: ApiError | None = None
    after_processing: bool = False
    delay: float = 0.0
    label: str = ""  # what the call's record says fired (see RecordedCall.fault)


class FakeTelegramServer:
    """A fake Telegram Bot API on ``127.0.0.1:<random port>``.

    Any token is accepted (``token`` holds the last one seen). Every call is appended to
    :attr:`calls`; chats are kept per :class:`FakeUser` (see :meth:`user`). Updates are served
    through ``getUpdates`` (long polling) or POSTed to the URL registered with ``setWebhook``.
    """

    def __init__(
        self,
        bot_username: str = "baraza_test_bot",
        *,
        bot_first_name: str = "Baraza Test Bot",
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 5.0,
        first_update_id: int = 1,
        webhook_concurrency: int = 1,
    ) -> None:
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        #: The token of the most recent request (``None`` before the first one).
        self.token: str | None = None
        #: Every Bot API call received, in arrival order.
        self.calls: list[RecordedCall] = []
        self._signal = Signal()
        self._users: dict[int, FakeUser] = {}
        self._updates = UpdateQueue(
            self._signal,
            first_update_id=first_update_id,
            webhook_retry_delay=webhook_retry_delay,
            webhook_timeout=webhook_timeout,
            webhook_concurrency=webhook_concurrency,
        )
        self._chats = ChatMethods(self)
        self._faults: dict[str, list[_Fault]] = {}
        #: Random faults for every call (see :meth:`inject_random_faults`), after the queued ones.
        self.random_faults: RandomFaults | None = None
        #: Per chat, the newest call's "has taken effect" future (calls of a chat apply in order).
        self._chat_tails: dict[object, asyncio.Future[None]] = {}
        self._seq = 0
        self._counter = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Handler] = {
            **self._updates.handlers(),
            **self._chats.handlers(),
            "getme": self._get_me,
            "close": self._true,
            "logout": self._true,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind a free port on 127.0.0.1 and start serving; returns once requests are accepted."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        # The calls' times measure send rates: no full collection may pause this loop meanwhile
        # (released in stop, with the runner).
        hold_collections()
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        await self._updates.start()

    async def stop(self) -> None:
        """Answer every waiting long poll with ``[]``, stop webhook delivery, close the server."""
        self._closing = True
        await self._updates.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            release_collections()

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeTelegramServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url()``: ``http://127.0.0.1:PORT/bot`` (PTB appends token/method)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url()``: ``http://127.0.0.1:PORT/file/bot``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ bot identity

    @property
    def bot_id(self) -> int:
        """The bot's user id: the numeric prefix of the token (``123`` for ``123:ABC``)."""
        prefix = (self.token or "").split(":", 1)[0]
        return int(prefix) if prefix.isdigit() else _DEFAULT_BOT_ID

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a Telegram ``User`` object (the ``from`` of its messages)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name, "username": self.bot_username}

    # ------------------------------------------------------------------ users & updates

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        language_code: str = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> FakeUser:
        """The simulated user ``user_id`` (created on first call, the same object afterwards).

        Their private chat with the bot has ``chat_id == user_id``; the bot can only send to
        chats of users created here (otherwise ``400 Bad Request: chat not found``).
        """
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        new_user = FakeUser(
            self, user_id, first_name=first_name, language_code=language_code, last_name=last_name, username=username
        )
        self._users[user_id] = new_user
        return new_user

    @property
    def users(self) -> dict[int, FakeUser]:
        """All simulated users by id (a copy)."""
        return dict(self._users)

    async def enqueue_raw_update(self, update: JSONDict) -> int:
        """Queue ``update`` verbatim for the bot and return its update_id.

        Without an ``update_id`` key the next global id is assigned; with one it is kept as is
        (duplicates and out-of-order ids are allowed - that is the point of raw updates; a
        non-integer update_id is sent as is and reported as -1).
        """
        payload = dict(update)
        payload.setdefault("update_id", self._updates.allocate_update_id())
        return self._updates.queue(payload)

    async def redeliver(self, update_id: int) -> None:
        """Deliver an already queued update again, like Telegram does after a failed delivery.

        The copy goes to the front of the queue and is handed out once even if the bot has
        already confirmed a higher offset. ``KeyError`` if ``update_id`` was never queued.
        """
        self._updates.redeliver(update_id)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed (polling) or not yet accepted (webhook), in order."""
        return [entry.payload for entry in self._updates.pending]

    def queued_updates(self) -> list[tuple[int, float, JSONDict]]:
        """Every update queued for the bot: ``(update_id, time.monotonic() when queued, payload)``."""
        updates = self._updates
        return [(uid, updates.queued_at.get(uid, 0.0), payload) for uid, payload in updates.queued.items()]

    def delivered_time(self, update_id: int) -> float | None:
        """``time.monotonic()`` when the bot first received ``update_id`` (``None``: never)."""
        return self._updates.delivered_at.get(update_id)

    def delivery_count(self, update_id: int) -> int:
        """How often ``update_id`` was handed out: getUpdates results + webhook POST attempts."""
        return self._updates.delivery_counts.get(update_id, 0)

    def is_delivered(self, update_id: int) -> bool:
        """True once the bot received ``update_id`` (returned by getUpdates / webhook 2xx)."""
        return update_id in self._updates.delivered_at

    async def wait_for_delivery(self, update_id: int, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until :meth:`is_delivered`; raise ``TimeoutError`` otherwise."""
        if not await self._signal.wait_for(lambda: self.is_delivered(update_id), timeout):
            raise TimeoutError(f"update {update_id} was not delivered within {timeout}s")

    # ------------------------------------------------------------------ webhook

    @property
    def webhook_url(self) -> str | None:
        """The URL registered with setWebhook, ``None`` in polling mode."""
        return self._updates.webhook.url if self._updates.webhook else None

    @property
    def webhook_max_connections(self) -> int | None:
        """The ``max_connections`` registered with setWebhook (Telegram's default: 40)."""
        return self._updates.webhook.max_connections if self._updates.webhook else None

    @property
    def webhook_secret(self) -> str | None:
        """The ``secret_token`` registered with setWebhook."""
        return self._updates.webhook.secret_token if self._updates.webhook else None

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every attempt to POST an update to the webhook, in order."""
        return list(self._updates.webhook_deliveries)

    @property
    def webhook_retry_delay(self) -> float:
        """Seconds before an update the webhook did not accept (non-2xx, error) is POSTed again."""
        return self._updates.webhook_retry_delay

    @webhook_retry_delay.setter
    def webhook_retry_delay(self, seconds: float) -> None:
        self._updates.webhook_retry_delay = seconds

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls of ``method`` (case-insensitive), oldest first."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def last_call(self, method: str) -> RecordedCall:
        """The newest recorded call of ``method``; ``LookupError`` if there is none."""
        found = self.calls_to(method)
        if not found:
            raise LookupError(f"the bot never called {method}")
        return found[-1]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 10,  # noqa: ASYNC109
        *,
        after: int = 0,
    ) -> RecordedCall:
        """Wait for a call of ``method`` (index in :attr:`calls` >= ``after``) matching ``predicate``
        and return it as soon as it is *received* (its response may still be pending)."""
        found: list[RecordedCall] = []

        def check() -> bool:
            for call in self.calls[after:]:
                if call.method.lower() == method.lower() and (predicate is None or predicate(call)):
                    found.append(call)
                    return True
            return False

        if not await self._signal.wait_for(check, timeout):
            raise TimeoutError(f"no {method} call within {timeout}s")
        return found[0]

    async def wait_for_calls(self, method: str, count: int, timeout: float = 20) -> None:  # noqa: ASYNC109
        """Wait until ``method`` has been called ``count`` times (say, that many messages sent)."""
        if not await self._signal.wait_for(lambda: len(self.calls_to(method)) >= count, timeout):
            raise TimeoutError(f"only {len(self.calls_to(method))} {method} calls, waiting for {count}")

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The command list stored by setMyCommands for ``scope`` and ``language_code``."""
        return list(self._chats.commands.get(commands_key(scope, language_code), []))

    def file_bytes(self, file_id: str) -> bytes | None:
        """The content of a file the bot sent (``None`` for files sent by URL); ``KeyError`` if unknown."""
        return self._chats.files[file_id].data

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        count: int = 1,
        error_code: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (``"*"`` = any method) with an error.

        For 429, ``parameters.retry_after`` defaults to 1 (PTB raises ``RetryAfter``); other codes
        carry it only if given. The call is recorded but has no effect.
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        error = ApiError(
            error_code, description or default_description(error_code, retry_after), retry_after=retry_after
        )
        self._add_fault(method, _Fault("error", count, error=error))

    def drop_next(self, method: str, count: int = 1, *, after_processing: bool = False) -> None:
        """Close the connection of the next ``count`` calls without any HTTP response.

        With ``after_processing=True`` the call takes effect first (e.g. the message is sent but
        the bot never learns it). PTB raises ``NetworkError`` either way.
        """
        self._add_fault(method, _Fault("drop", count, after_processing=after_processing))

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` for ``seconds`` before handling them."""
        self._add_fault(method, _Fault("delay", count, delay=seconds))

    def inject_random_faults(self, faults: RandomFaults | None) -> None:
        """From now on fail calls at random as ``faults`` says (``None``: stop)."""
        self.random_faults = faults

    def clear_faults(self) -> None:
        """Forget all faults that have not fired yet (random ones included)."""
        self._faults.clear()
        self.random_faults = None

    def _add_fault(self, method: str, fault: _Fault) -> None:
        if fault.remaining > 0:
            self._faults.setdefault(method.lower(), []).append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method.lower(), "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
                return fault
        return self._random_fault(method)

    def _random_fault(self, method: str) -> _Fault | None:
        chaos = self.random_faults
        kind = chaos.pick(method) if chaos is not None else None
        if chaos is None or kind is None:
            return None
        if kind == "429":
            return _Fault("error", 1, error=ApiError(429, default_description(429, 1), retry_after=1), label=kind)
        if kind == "5xx":
            code = chaos.server_error()
            return _Fault("error", 1, error=ApiError(code, default_description(code, None)), label=f"{code}")
        if kind == "timeout":
            return _Fault("delay", 1, delay=chaos.timeout_seconds, label=kind)
        return _Fault("drop", 1, after_processing=kind == "drop_after", label=kind)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        self.token = token
        parse_error: ApiError | None = None
        try:
            params, files = await read_params(request)
        except ApiError as exc:
            params, files, parse_error = {}, {}, exc
        except ConnectionError:  # the client gave up while still sending: nothing reached "Telegram"
            return web.Response(status=499)
        call = RecordedCall(method, params, files, token, time.monotonic(), request.content_type)
        self.calls.append(call)
        self._signal.notify()  # wait_for_call returns calls as soon as they are received
        fault = self._take_fault(method)
        if fault is not None:
            call.fault = fault.label or _label(fault)
        # Telegram applies the calls it has received for one chat in the order it received them
        # (the telegram-bot-api server sends a chat's messages one after another, and their ids
        # grow in that order): a call held by a "timeout" (Telegram slow to answer, the bot has
        # given up waiting) is not overtaken by a later call for the same chat, which waits for it.
        # Calls for other chats, and faults that never reach "Telegram", are not held up.
        chat = params.get("chat_id") if method.lower() in _CHAT_CALLS else None
        chat = chat if isinstance(chat, int | str) else None  # (a forged chat_id can be any JSON)
        earlier = self._chat_tails.get(chat) if chat is not None else None
        applied: asyncio.Future[None] | None = None
        if chat is not None:
            applied = asyncio.get_running_loop().create_future()
            self._chat_tails[chat] = applied
        try:
            if fault is not None and fault.kind == "delay":
                await self._signal.wait_for(lambda: self._closing, fault.delay)
            if earlier is not None and not earlier.done():
                await asyncio.wait([earlier])  # (not ``await earlier``: a cancelled waiter must not cancel it)
            if fault is not None and fault.kind == "drop" and not fault.after_processing:
                return self._drop(request)
            if fault is not None and fault.error is not None:
                raise fault.error
            if parse_error is not None:
                raise parse_error
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            payload = ok_payload(await handler(CallContext(params, files, request)))
        except ApiError as exc:
            payload = exc.payload()
        finally:
            call.finished = time.monotonic()
            if applied is not None:
                applied.set_result(None)
                if self._chat_tails.get(chat) is applied:
                    del self._chat_tails[chat]
            self._signal.notify()
        if fault is not None and fault.kind == "drop":
            return self._drop(request)
        call.response = payload
        call.status = 200 if payload["ok"] else int(payload["error_code"])
        self._signal.notify()
        return json_response(payload)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=599)  # never reaches the client: the transport is gone

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        stored = self._chats.file_by_path(request.match_info["path"])
        if stored is None or stored.data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    async def _true(self, ctx: CallContext) -> bool:
        return True

    async def _get_me(self, ctx: CallContext) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ for FakeUser

    async def _enqueue(self, body: JSONDict) -> int:
        return self._updates.queue({"update_id": self._updates.allocate_update_id(), **body})

    def _delivered_time(self, update_id: int) -> float | None:
        return self._updates.delivered_at.get(update_id)

    def _register_callback(self, query_id: str, user_id: int) -> None:
        self._chats.callback_owner[query_id] = user_id

    def _upload(self, data: bytes, kind: str, mime_type: str | None, filename: str | None) -> JSONDict:
        stored = self._chats._store_file(data, filename, mime_type, kind)
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(data)}

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_id(self) -> str:
        self._counter += 1
        return f"{4_000_000_000_000 + self._counter}"


def _label(fault: _Fault) -> str:
    """How a queued fault shows in a call's record."""
    if fault.kind == "error" and fault.error is not None:
        return str(fault.error.error_code)
    if fault.kind == "drop":
        return "drop_after" if fault.after_processing else "drop"
    return f"delay {fault.delay:g}s"
