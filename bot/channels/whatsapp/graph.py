"""A small client of the WhatsApp Business Cloud API (Meta's Graph API) on aiohttp.

Three calls: ``GET /{version}/{phone-number-id}`` (is the access token accepted: the start-up
check), ``POST /{version}/{phone-number-id}/messages`` (send one message; the answer holds its
``wamid``) and ``POST /{version}/{phone-number-id}/media`` (upload a picture or document; the
answer holds its media id). A file a person sent is fetched in two steps
(:meth:`GraphClient.download`): ``GET /{version}/{media-id}`` gives its URL, MIME type and size,
then ``GET url``, with the same bearer token, gives the file. Throughput errors (130429 and the other rate limits below) and
server errors are retried with doubling waits; other errors raise :class:`GraphError` at once.
The base URL is configurable, so tests point it at a local fake Graph API.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.config import WhatsAppSettings
from bot.health import ChannelHealth
from common.errors import BarazaError
from handlers.messages import Attachment

log = logging.getLogger(__name__)

#: Error codes that mean "too fast": 130429 Cloud API throughput reached, 131056 too many
#: messages to one recipient, 80007 and 4 account or application rate limits.
RATE_LIMITED = frozenset({130429, 131056, 80007, 4})
#: Temporary errors on Meta's side: 131000 something went wrong, 131016 service unavailable, 2.
TEMPORARY = frozenset({131000, 131016, 2})
#: 190: the access token is invalid or expired.
TOKEN_REFUSED = frozenset({190})
#: The recipient cannot get free-form messages now: outside the 24-hour window (re-engagement).
OUTSIDE_WINDOW = 131047
#: The recipient asked to stop marketing messages from this business.
STOPPED_MARKETING = 131050


class GraphError(BarazaError):
    """The Graph API answered with an error (after the retries, for retriable ones)."""

    def __init__(self, http_status: int, code: int | None, message: str) -> None:
        super().__init__(f"WhatsApp error {code if code is not None else http_status}: {message}")
        self.http_status = http_status
        self.code = code

    @property
    def retriable(self) -> bool:
        return self.http_status >= 500 or self.code in RATE_LIMITED or self.code in TEMPORARY

    @property
    def token_refused(self) -> bool:
        """Meta does not accept the access token (expired, revoked, mistyped): nothing goes out."""
        return self.http_status == 401 or self.code in TOKEN_REFUSED


class GraphUnreachable(BarazaError):
    """No answer from the Graph API; ``maybe_sent`` tells if the request may have arrived."""

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


REFUSED_TOKEN = "the access token was refused (check BARAZA_WHATSAPP_ACCESS_TOKEN)"  # noqa: S105 (a message)


def _error_of(status: int, data: Any) -> GraphError:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GraphError(status, None, f"HTTP {status}")
    code = error.get("code")
    message = str(error.get("message") or error.get("title") or f"HTTP {status}")
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    if details:
        message = f"{message} ({details})"
    return GraphError(status, int(code) if isinstance(code, int) else None, message[:300])


@dataclass(frozen=True)
class Downloaded:
    """A file fetched from the Graph API; ``content`` is empty when it is over the limit (``size`` says how big)."""

    content: bytes
    mime_type: str
    size: int


class GraphClient:
    """Sends messages and uploads media for one business phone number."""

    def __init__(
        self, settings: WhatsAppSettings, *, timeout: float = 20.0, health: ChannelHealth | None = None
    ) -> None:
        """``health`` (the channel's) turns degraded when Meta refuses the token, connected when a call succeeds."""
        assert settings.phone_number_id and settings.access_token, "GraphClient needs a phone number id and a token"
        self.settings = settings
        self.timeout = timeout
        self.health = health
        self._base = f"{settings.graph_base_url}/{settings.api_version}/{settings.phone_number_id}"
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.settings.access_token}"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )

    @property
    def started(self) -> bool:
        return self._session is not None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self) -> None:
        """Ask for the phone number's record: raises :class:`GraphError` when the token is refused,
        :class:`GraphUnreachable` when Meta does not answer."""
        await self._call("check", lambda session: session.get(self._base, params={"fields": "id"}))

    async def send(self, to: str, body: dict[str, Any]) -> str:
        """Send one message (``body`` as made by :mod:`bot.channels.whatsapp.rendering`); returns its wamid."""
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        data = await self._call("messages", lambda session: session.post(f"{self._base}/messages", json=payload))
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise GraphError(200, None, "the answer holds no message id") from None

    async def upload(self, attachment: Attachment) -> str:
        """Upload a picture or document; returns the media id to send it by."""

        def request(session: aiohttp.ClientSession) -> Any:
            form = aiohttp.FormData()
            form.add_field("messaging_product", "whatsapp")
            form.add_field("type", attachment.mime_type)
            form.add_field("file", attachment.content, filename=attachment.filename, content_type=attachment.mime_type)
            return session.post(f"{self._base}/media", data=form)

        data = await self._call("media", request)
        try:
            return str(data["id"])
        except (KeyError, TypeError):
            raise GraphError(200, None, "the upload answer holds no media id") from None

    async def download(self, media_id: str, max_bytes: int) -> Downloaded:
        """The file a person sent (``media_id`` from the webhook), fetched only when it is at most
        ``max_bytes``; raises :class:`GraphError` or :class:`GraphUnreachable` when it cannot be had."""
        root = f"{self.settings.graph_base_url}/{self.settings.api_version}"
        if not media_id.isalnum():
            raise GraphError(400, None, "not a media id")
        data = await self._call("media URL", lambda session: session.get(f"{root}/{media_id}"))
        try:
            url, mime_type = str(data["url"]), str(data.get("mime_type") or "application/octet-stream")
            size = int(data.get("file_size") or 0)
        except (KeyError, TypeError, ValueError):
            raise GraphError(200, None, "the media answer holds no URL") from None
        if size > max_bytes:
            return Downloaded(b"", mime_type, size)
        await self.start()
        assert self._session is not None
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    raise GraphError(response.status, None, f"the media download answered HTTP {response.status}")
                content = await response.content.read(max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise GraphUnreachable(f"media download: {type(failure).__name__}", maybe_sent=False) from failure
        if len(content) > max_bytes:
            return Downloaded(b"", mime_type, max(size, len(content)))
        return Downloaded(content, mime_type, len(content))

    async def _call(self, what: str, request: Any) -> Any:
        await self.start()
        assert self._session is not None
        retries = self.settings.max_retries
        for attempt in range(retries + 1):
            try:
                async with request(self._session) as response:
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        data = None
                    if response.status == 200 and isinstance(data, dict) and "error" not in data:
                        if self.health is not None:
                            self.health.connected()
                        return data
                    error = _error_of(response.status, data)
                    if error.token_refused and self.health is not None:
                        self.health.degraded(REFUSED_TOKEN)
            except aiohttp.ClientConnectorError as failure:
                # The connection was never made: nothing was sent. Worth a retry, like a 5xx.
                error = GraphError(503, None, f"cannot connect: {type(failure).__name__}")
                if attempt == retries:
                    raise GraphUnreachable(str(error), maybe_sent=False) from failure
            except (aiohttp.ClientError, TimeoutError) as failure:
                raise GraphUnreachable(f"no answer: {type(failure).__name__}", maybe_sent=True) from failure
            if not error.retriable or attempt == retries:
                raise error
            delay = self.settings.retry_delay * 2**attempt
            log.warning("WhatsApp %s: %s; retrying in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
