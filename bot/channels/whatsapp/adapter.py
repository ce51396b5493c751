"""The WhatsApp channel: the WhatsApp Business Cloud API at the edge of the channel-agnostic core.

Meta calls our webhook (on the aiohttp server of :mod:`bot.app`):

- ``GET`` is the verification handshake: ``hub.mode=subscribe`` with our ``hub.verify_token``
  is answered with ``hub.challenge``; anything else gets 403.
- ``POST`` carries messages and statuses. Its ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw
  body with the app secret) is checked first: a wrong or missing signature gets 401 and nothing
  is processed. Each message becomes an :class:`~handlers.messages.Inbound` (its ``wamid`` is
  the update key, so a redelivered webhook is applied once); text, reply-button and list
  replies, locations, and pictures, voice notes, audio, videos and documents (fetched through
  the Graph API within ``media.max_mb`` before the core sees them) are understood; other kinds
  (stickers, contacts) get "please type an answer". Statuses (delivered, read,
  failed) are recorded on broadcast deliveries. Meta gets its 200 only after the messages are
  committed and answered: when an answer could not be sent, 503 makes Meta deliver the webhook
  again, and the engine then repeats the current question.

Replies go out through :class:`~bot.channels.whatsapp.graph.GraphClient`, rendered by
:mod:`bot.channels.whatsapp.rendering`. :class:`~bot.channels.whatsapp.sender.WhatsAppSender`
sends broadcasts and the outbox, with the notice's approved template outside the 24-hour
customer-service window.

WhatsApp user ids are phone numbers: they are never logged.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.channels.arrival import ArrivalOrder
from bot.channels.whatsapp.graph import REFUSED_TOKEN, GraphClient, GraphError, GraphUnreachable
from bot.channels.whatsapp.rendering import MediaPart, Part, render
from bot.config import WhatsAppSettings
from bot.health import ChannelHealth, keep_trying
from common.clock import utc_now
from common.constant_time import same_secret
from common.errors import BarazaError
from handlers.messages import Inbound, Location, MessageProcessor, Outbound, Upload
from storage.database import Database
from storage.delivery_receipts import Receipt, ReceiptRepository
from storage.media import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
#: When a failure report matches no delivery yet, it is tried again after these waits (seconds).
RECEIPT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
#: Message kinds that are not an answer (reactions to a message, system notices): ignored.
IGNORED_KINDS = frozenset({"reaction", "system", "ephemeral", "request_welcome"})
#: Message kinds that carry a file, and the kind of :class:`~handlers.messages.Upload` each is.
MEDIA_KINDS = {"image": "image", "audio": "audio", "video": "video", "document": "file"}


def signature_of(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str | None, app_secret: str | None) -> bool:
    if not header or not app_secret:
        return False
    return same_secret(header.strip().lower(), signature_of(body, app_secret))


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class WebhookContent:
    """What one webhook call holds: messages for the core, and receipts of sent messages.

    ``media`` gives, by update key, the Graph media id of each message that carries a file: its
    :attr:`Inbound.upload` has no content until the channel fetches it.
    """

    messages: list[Inbound]
    receipts: list[Receipt]
    media: dict[str, str] = field(default_factory=dict)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _values(payload: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    # Meta signs what it sends, so odd shapes are skipped rather than answered with an error
    # (an error would make Meta deliver the same call again and again).
    for entry in _list(payload.get("entry")):
        for change in _list(_map(entry).get("changes")):
            if _map(change).get("field") in (None, "messages"):
                yield _map(_map(change).get("value"))


def _inbound(message: Mapping[str, Any]) -> Inbound | None:
    sender, key, kind = message.get("from"), message.get("id"), message.get("type")
    if not isinstance(sender, str) or not isinstance(key, str) or kind in IGNORED_KINDS:
        return None
    base = Inbound(
        channel=CHANNEL, user_key=sender, chat_key=sender, update_key=key, received_at=_time(message.get("timestamp"))
    )
    if kind == "text":
        return replace(base, text=str(_map(message.get("text")).get("body") or ""))
    if kind == "interactive":
        interactive = _map(message.get("interactive"))
        reply = _map(interactive.get("button_reply") or interactive.get("list_reply"))
        if isinstance(reply.get("id"), str):
            return replace(base, payload=reply["id"])
    if kind == "button":  # a quick-reply button of a template: its text is what the person said
        return replace(base, text=str(_map(message.get("button")).get("text") or ""))
    if kind == "location":
        place = _map(message.get("location"))
        try:
            return replace(base, location=Location(float(place["latitude"]), float(place["longitude"])))
        except (KeyError, TypeError, ValueError):
            return replace(base, text="")
    if kind in MEDIA_KINDS and isinstance(_map(message.get(kind)).get("id"), str):
        media = _map(message.get(kind))
        filename = media.get("filename") if isinstance(media.get("filename"), str) else None
        mime_type = str(media.get("mime_type") or "application/octet-stream")
        return replace(base, upload=Upload(MEDIA_KINDS[kind], b"", mime_type, filename=filename))
    # Stickers, contacts...: an empty text gets "please type an answer".
    return replace(base, text="")


def _receipt(status: Mapping[str, Any]) -> Receipt | None:
    key, state = status.get("id"), status.get("status")
    if not isinstance(key, str) or not isinstance(state, str):
        return None
    error = None
    errors = _list(status.get("errors"))
    if errors and isinstance(errors[0], Mapping):
        first = errors[0]
        error = f"WhatsApp error {first.get('code')}: {first.get('title') or first.get('message') or ''}".strip()
    return Receipt(CHANNEL, key, state, _time(status.get("timestamp")) or utc_now(), error)


def parse_webhook(payload: Any) -> WebhookContent:
    """The messages and statuses of a webhook body (unknown parts are skipped)."""
    messages: list[Inbound] = []
    receipts: list[Receipt] = []
    media: dict[str, str] = {}
    if isinstance(payload, Mapping):
        for value in _values(payload):
            for message in _list(value.get("messages")):
                if isinstance(message, Mapping) and (inbound := _inbound(message)) is not None:
                    messages.append(inbound)
                    if inbound.upload is not None:
                        media[inbound.update_key] = str(_map(message.get(str(message.get("type")))).get("id"))
            for status in _list(value.get("statuses")):
                if isinstance(status, Mapping) and (receipt := _receipt(status)) is not None:
                    receipts.append(receipt)
    return WebhookContent(messages, receipts, media)


# --------------------------------------------------------------------------- sending


async def send_parts(client: GraphClient, to: str, parts: list[Part], uploaded: dict[str, str] | None = None) -> str:
    """Send rendered parts in order; returns the wamid of the first message.

    ``uploaded`` maps attachment file names to media ids already uploaded (broadcasts upload a
    file once); new uploads are added to it.
    """
    first: str | None = None
    for part in parts:
        if isinstance(part, MediaPart):
            cache = uploaded if uploaded is not None else {}
            media_id = cache.get(part.attachment.filename)
            if media_id is None:
                media_id = cache[part.attachment.filename] = await client.upload(part.attachment)
            body = part.body(media_id)
        else:
            body = part
        try:
            key = await client.send(to, body)
        except (GraphError, GraphUnreachable) as error:
            if first is not None:
                raise PartlySent(str(error)) from error
            raise
        first = first or key
    assert first is not None, "render always gives at least one part"
    return first


class PartlySent(BarazaError):
    """The first messages of a reply went out, a later one did not."""


def why_unusable(error: BaseException) -> str:
    """What ``/healthz`` and the log say when the Graph API cannot be used (never the token)."""
    if isinstance(error, GraphError) and error.token_refused:
        return REFUSED_TOKEN
    if isinstance(error, GraphUnreachable):
        return "cannot connect to the Graph API"
    return (
        f"the Graph API refused: {error}" if isinstance(error, GraphError) else f"cannot start: {type(error).__name__}"
    )


class WhatsAppChannel:
    """Receives the webhook and answers through the Graph API."""

    def __init__(
        self,
        settings: WhatsAppSettings,
        processor: MessageProcessor,
        database: Database,
        *,
        max_file_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        """Files people send are fetched up to ``max_file_bytes``."""
        self.settings = settings
        self.processor = processor
        self.database = database
        self.max_file_bytes = max_file_bytes
        self._arrivals = ArrivalOrder()
        #: Degraded while Meta refuses the access token or does not answer; ``/healthz`` shows it.
        self.health = ChannelHealth(CHANNEL)
        self.client = GraphClient(settings, health=self.health)
        self._retrying: set[asyncio.Task[None]] = set()
        self._checking: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(self.settings.webhook_path, self.handle_verification)
        app.router.add_post(self.settings.webhook_path, self.handle_webhook)

    async def start(self) -> None:
        """Open the Graph API client and check the token in the background: a refused token or an
        unreachable Meta makes the channel degraded (checked again with a growing pause), never
        stops the start."""
        await self.client.start()
        self._checking = asyncio.create_task(keep_trying(self.health, self.client.check, why_unusable))
        # A token refused later (revoked, expired) is checked again the same way until it works.
        self.health.on_degraded = self._check_again
        log.info("WhatsApp webhook on %s", self.settings.webhook_path)

    def _check_again(self) -> None:
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(
                keep_trying(self.health, self.client.check, why_unusable, wait_first=True)
            )

    async def stop(self) -> None:
        self.health.on_degraded = None
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)
        for task in list(self._retrying):
            task.cancel()
        await asyncio.gather(*self._retrying, return_exceptions=True)
        await self.client.close()

    @property
    def running(self) -> bool:
        """Started and not stopped (``/healthz``)."""
        return self.client.started

    async def handle_verification(self, request: web.Request) -> web.Response:
        """The handshake Meta does when the webhook is configured."""
        query = request.query
        token = query.get("hub.verify_token", "")
        expected = self.settings.verify_token or ""
        if query.get("hub.mode") == "subscribe" and same_secret(token, expected):
            return web.Response(text=query.get("hub.challenge", ""))
        return web.Response(status=403, text="verification failed")

    async def handle_webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_ok(body, request.headers.get(SIGNATURE_HEADER), self.settings.app_secret):
            log.warning("WhatsApp webhook call with a wrong or missing signature refused")
            return web.Response(status=401, text="wrong signature")
        try:
            content = parse_webhook(json.loads(body))
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            return web.Response(status=400, text="not JSON")
        if content.receipts:
            await self._record(content.receipts)
        complete = True
        for inbound in content.messages:
            media_id = content.media.get(inbound.update_key)
            prepare = functools.partial(self._fetch, media_id) if media_id is not None else None
            # The replies go out before the chat's next message is handled (the core's line); a
            # file is fetched first, a later call's messages of the chat waiting for it in line.
            answer = functools.partial(self._answer, inbound)
            if not await self._arrivals.serve(self.processor, inbound.chat_key, inbound, answer, prepare):
                complete = False
        # A 503 makes Meta deliver the call again; the engine repeats the current question then.
        return web.Response(text="ok") if complete else web.Response(status=503, text="reply not sent")

    async def _fetch(self, media_id: str, inbound: Inbound) -> Inbound:
        """The inbound with its file fetched from the Graph API; without content when it is over the
        limit (``size`` set) or could not be fetched (the core then asks for it again)."""
        upload = inbound.upload
        assert upload is not None
        try:
            downloaded = await self.client.download(media_id, self.max_file_bytes)
        except (GraphError, GraphUnreachable) as error:
            log.warning("could not fetch a WhatsApp file: %s", error)
            return inbound
        mime_type = downloaded.mime_type or upload.mime_type
        if not downloaded.content:
            return replace(inbound, upload=replace(upload, mime_type=mime_type, size=downloaded.size))
        return replace(inbound, upload=replace(upload, content=downloaded.content, mime_type=mime_type))

    async def _record(self, receipts: list[Receipt]) -> None:
        unmatched: list[Receipt] = []
        async with self.database.transaction() as connection:
            repository = ReceiptRepository(connection)
            for receipt in receipts:
                if not await repository.record(receipt) and receipt.status == "failed":
                    unmatched.append(receipt)
                if receipt.status == "failed":
                    log.info("WhatsApp reports a message failed: %s", receipt.error)
        if unmatched:
            # A failure can be reported before the dispatcher has committed the message's id:
            # look again a little later (replies, which are not deliveries, never match).
            task = asyncio.create_task(self._record_later(unmatched))
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)

    async def _record_later(self, receipts: list[Receipt]) -> None:
        for delay in RECEIPT_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                async with self.database.transaction() as connection:
                    repository = ReceiptRepository(connection)
                    receipts = [receipt for receipt in receipts if not await repository.record(receipt)]
            except Exception as error:  # the database is away: the receipt is only a report
                log.warning("could not record WhatsApp statuses: %s", type(error).__name__)
            if not receipts:
                return

    async def _answer(self, inbound: Inbound, replies: list[Outbound]) -> bool:
        """Send the replies; False if one could not be sent for a reason that may pass."""
        # WhatsApp cannot edit a message: what Telegram shows in place of the pressed message
        # (a ticked choice, an answered question, a lookup's next step) comes as a new message.
        for reply in replies:
            try:
                await self.send(inbound.chat_key, reply)
            except GraphError as error:
                log.error("WhatsApp refused a reply: %s", error)
                if error.retriable:
                    return False
            except (GraphUnreachable, PartlySent) as error:
                log.error("WhatsApp reply not sent: %s", error)
                return False
        return True

    async def send(self, chat_key: str, reply: Outbound) -> str:
        """Send one outbound message to a chat; returns the wamid of its first part."""
        return await send_parts(self.client, chat_key, render(reply))
