"""The bot's update queue: ``getUpdates`` long polling, webhook registration and delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from .model import JSONDict, Signal, WebhookDelivery
from .protocol import ApiError, CallContext, Handler, bad_request

_LOGGER = logging.getLogger(__name__)

#: Update types Telegram only sends when explicitly listed in ``allowed_updates``.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass(eq=False)
class PendingUpdate:
    """An update waiting to be confirmed (polling) or accepted (webhook)."""

    update_id: int
    payload: JSONDict
    forced: bool = False  # a redelivery: handed out once regardless of the confirmed offset


@dataclass
class Webhook:
    """What setWebhook registered."""

    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Updates for the bot, handed out like Telegram does.

    Polling: ``getUpdates`` returns pending updates; an ``offset`` confirms (drops) every update
    with a smaller id; ``timeout`` waits for new updates. Webhook: updates are POSTed one at a
    time, in order, and dropped once the webhook answers 2xx; otherwise retried after
    ``webhook_retry_delay`` seconds. ``getUpdates`` answers 409 while a webhook is set. With
    ``webhook_concurrency`` above 1, up to that many updates (and at most the webhook's
    ``max_connections``) are POSTed at once, like Telegram does for a busy bot.
    """

    def __init__(
        self,
        signal: Signal,
        *,
        first_update_id: int,
        webhook_retry_delay: float,
        webhook_timeout: float,
        webhook_concurrency: int = 1,
    ) -> None:
        self.signal = signal
        self.webhook_concurrency = max(1, webhook_concurrency)
        self._in_flight: set[int] = set()  # id() of the PendingUpdate entries being POSTed
        self._deliveries: set[asyncio.Task[None]] = set()
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.pending: list[PendingUpdate] = []
        self.queued: dict[int, JSONDict] = {}
        self.queued_at: dict[int, float] = {}  # update_id -> time.monotonic() when the user acted
        self.delivered_at: dict[int, float] = {}
        self.delivery_counts: dict[int, int] = {}
        self.webhook: Webhook | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.closing = False
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    def handlers(self) -> dict[str, Handler]:
        """Bot API methods implemented here, keyed by lower-case name."""
        return {
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
        }

    async def start(self) -> None:
        """Start the webhook delivery task (idle while no webhook is set)."""
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._webhook_loop(), name="fake-telegram-webhook")

    async def close(self) -> None:
        """Wake all long polls (they answer ``[]``) and stop webhook delivery."""
        self.closing = True
        self.signal.notify()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ queueing

    def allocate_update_id(self) -> int:
        """The next global update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        return update_id

    def queue(self, payload: JSONDict) -> int:
        """Append ``payload`` (which carries its update_id) and wake waiters."""
        update_id = payload.get("update_id")
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            self._next_update_id = max(self._next_update_id, update_id + 1)
        else:
            update_id = -1
        self.queued[update_id] = payload
        self.queued_at.setdefault(update_id, time.monotonic())
        self.pending.append(PendingUpdate(update_id, payload))
        self.signal.notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Put a copy of a queued update at the front, to be handed out once more."""
        payload = self.queued.get(update_id)
        if payload is None:
            raise KeyError(f"update {update_id} was never queued")
        self.pending.insert(0, PendingUpdate(update_id, payload, forced=True))
        self.signal.notify()

    def _handed_out(self, update_id: int, *, accepted: bool = True) -> None:
        self.delivery_counts[update_id] = self.delivery_counts.get(update_id, 0) + 1
        if accepted:
            self.delivered_at.setdefault(update_id, time.monotonic())
        self.signal.notify()

    def _remove(self, entry: PendingUpdate) -> None:
        self.pending = [e for e in self.pending if e is not entry]

    @staticmethod
    def _allowed(payload: JSONDict, allowed: list[str] | None) -> bool:
        kind = next((key for key in payload if key != "update_id"), None)
        if kind is None:
            return True
        if allowed:
            return kind in allowed
        return kind not in _OPT_IN_UPDATES

    def _confirm(self, offset: Any) -> None:
        if not isinstance(offset, int) or isinstance(offset, bool):
            return
        if offset < 0:  # Telegram: keep only the last -offset updates
            normal = [entry for entry in self.pending if not entry.forced]
            keep = {id(entry) for entry in normal[offset:]}
            self.pending = [e for e in self.pending if e.forced or id(e) in keep]
        else:
            self.pending = [e for e in self.pending if e.forced or e.update_id >= offset]

    def _take_batch(self, limit: int) -> list[PendingUpdate]:
        batch: list[PendingUpdate] = []
        for entry in list(self.pending):
            if len(batch) >= limit:
                break
            if not self._allowed(entry.payload, self._allowed_updates):
                self._remove(entry)
                continue
            batch.append(entry)
        for entry in batch:
            if entry.forced:
                self._remove(entry)
        return batch

    # ------------------------------------------------------------------ Bot API methods

    async def get_updates(self, ctx: CallContext) -> list[JSONDict]:
        """getUpdates with offset / limit / timeout / allowed_updates semantics."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                "webhook first",
            )
        params = ctx.params
        limit = params.get("limit", 100)
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        timeout = params.get("timeout", 0)
        timeout = max(float(timeout), 0.0) if isinstance(timeout, int | float) else 0.0
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(params.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        self.signal.notify()  # an older long poll still waiting is now superseded

        def ready() -> bool:
            return (
                self.closing
                or self.webhook is not None
                or generation != self._poll_generation
                or any(self._allowed(e.payload, self._allowed_updates) for e in self.pending)
            )

        await self.signal.wait_for(ready, timeout)
        if generation != self._poll_generation:
            raise ApiError(
                409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
            )
        transport = ctx.request.transport
        if self.closing or self.webhook is not None or transport is None or transport.is_closing():
            return []  # nobody would receive the batch
        batch = self._take_batch(limit)
        for entry in batch:
            self._handed_out(entry.update_id)
        return [entry.payload for entry in batch]

    async def set_webhook(self, ctx: CallContext) -> bool:
        """setWebhook: plain http:// URLs are accepted (unlike Telegram) so tests can listen locally."""
        params = ctx.params
        url = params.get("url") or ""
        if params.get("drop_pending_updates"):
            self.pending.clear()
        if not url:
            self.webhook = None
            return True
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        self.webhook = Webhook(
            url=url,
            secret_token=params.get("secret_token") or None,
            max_connections=int(params.get("max_connections") or 40),
            allowed_updates=list(allowed) if isinstance(allowed, list) else None,
            ip_address=params.get("ip_address"),
        )
        self.signal.notify()
        return True

    async def delete_webhook(self, ctx: CallContext) -> bool:
        """deleteWebhook, optionally dropping pending updates."""
        if ctx.params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = None
        self.signal.notify()
        return True

    async def get_webhook_info(self, ctx: CallContext) -> JSONDict:
        """getWebhookInfo including the last delivery error."""
        hook = self.webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    # ------------------------------------------------------------------ webhook delivery

    async def _webhook_loop(self) -> None:
        while not self.closing:
            await self.signal.wait_for(lambda: self.closing or self._next_delivery() is not None, None)
            hook, entry = self.webhook, self._next_delivery()
            if self.closing or hook is None or entry is None:
                continue
            if self.webhook_concurrency == 1:
                await self._deliver_guarded(hook, entry)
                continue
            self._in_flight.add(id(entry))
            task = asyncio.create_task(self._deliver_guarded(hook, entry))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    def _next_delivery(self) -> PendingUpdate | None:
        """The oldest pending update not being POSTed, if another POST may start now."""
        hook = self.webhook
        if hook is None or len(self._in_flight) >= min(self.webhook_concurrency, hook.max_connections):
            return None
        return next((entry for entry in self.pending if id(entry) not in self._in_flight), None)

    async def _deliver_guarded(self, hook: Webhook, entry: PendingUpdate) -> None:
        try:
            await self._deliver_one(hook, entry)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep delivering even if one attempt blew up
            _LOGGER.exception("fake Telegram webhook delivery failed")
            await asyncio.sleep(self.webhook_retry_delay)
        finally:
            self._in_flight.discard(id(entry))
            self.signal.notify()

    async def _deliver_one(self, hook: Webhook, entry: PendingUpdate) -> None:
        if not self._allowed(entry.payload, hook.allowed_updates):
            self._remove(entry)
            return
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                hook.url,
                data=json.dumps(entry.payload),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                status = response.status
                await response.read()
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(WebhookDelivery(entry.update_id, hook.url, status, error, time.monotonic()))
        if error is None:
            self._remove(entry)
            self._handed_out(entry.update_id)
            return
        self._handed_out(entry.update_id, accepted=False)
        hook.last_error_date = int(time.time())
        hook.last_error_message = error
        await self.signal.wait_for(lambda: self.closing or self.webhook is not hook, self.webhook_retry_delay)
