"""python-telegram-bot's HTTP layer on aiohttp: :class:`AiohttpRequest`.

PTB's default :class:`telegram.request.HTTPXRequest` spends about as much CPU on one Bot API
call as Baraza's engine spends on a whole survey step (httpx builds a request model per call and
httpcore scans every pooled connection on each one). This :class:`~telegram.request.BaseRequest`
sends the same requests over one aiohttp ``ClientSession`` instead (aiohttp already serves the
webhook): the PTB echo bot of ``bench.load`` needs 0.3-0.5 ms of CPU per input on it, against
3.1-3.4 ms on httpx.

It keeps :class:`~telegram.request.HTTPXRequest`'s contract, so PTB and
:func:`certainly_not_sent` see the same things:

- the body is ``application/x-www-form-urlencoded`` (each value as PTB encodes it: strings as
  they are, everything else JSON), or ``multipart/form-data`` when files are uploaded; a
  :class:`JsonBody` (:func:`send_text`'s ``sendMessage``) goes as one ``application/json`` body,
  which the Bot API takes for any call without files;
- timeouts left at ``DEFAULT_NONE`` take this object's defaults; the write timeout of an upload
  defaults to ``media_write_timeout``;
- a timeout raises :class:`telegram.error.TimedOut`, any other transport failure
  :class:`telegram.error.NetworkError`, each with the aiohttp exception as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import httpx
import orjson
from aiohttp.helpers import get_env_proxy_for_url
from telegram import Bot, TelegramObject
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from yarl import URL

from bot.channels.telegram import ptb_compat
from bot.channels.telegram.ptb_compat import ODVInput, given_or
from common.errors import BarazaError

FORM = "application/x-www-form-urlencoded"
_JSON_HEADERS = {"Content-Type": "application/json"}
# httpx writes a multipart file name the HTML5 way: '"' and control characters percent-encoded
# (aiohttp would escape '"' as '\"', which aiohttp's own server, for one, rejects).
_FILENAME_ESCAPES = re.compile(r'["\x00-\x1a\x1c-\x1f]')


class PoolTimeout(TimeoutError, BarazaError):
    """No pooled connection came free within ``pool_timeout``: the request was never sent."""


#: Failures after which the request certainly never reached the server: no connection was made
#: (refused, unreachable, DNS, TLS handshake), or no pooled connection came free in time. Any
#: other failure (a read timeout, the connection lost mid-request) may come after the server
#: acted on the request.
NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (
    PoolTimeout,
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    # The same failures of PTB's own HTTPXRequest.
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
)


class JsonBody:
    """The parameters of a Bot API call, sent as one ``application/json`` body by :class:`AiohttpRequest`.

    Values are what :func:`json.dumps` takes, plus PTB objects (sent as their ``to_dict()``).
    """

    __slots__ = ("parameters",)

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters

    def encode(self) -> bytes:
        """The body: UTF-8 JSON (a lone surrogate in a text fails here, as it does in a form)."""
        # orjson writes what json.dumps(ensure_ascii=False) and .encode() would, in a fifth of the time.
        return orjson.dumps(self.parameters, default=_to_dict)


def _to_dict(value: object) -> Any:
    if isinstance(value, TelegramObject):
        return value.to_dict()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class AiohttpRequest(BaseRequest):
    """A :class:`~telegram.request.BaseRequest` on an aiohttp ``ClientSession``.

    ``connection_pool_size`` bounds the calls in flight (and so the open connections); a call
    waits up to ``pool_timeout`` for a free one. Timeouts are in seconds, ``None`` meaning no
    limit, and mean what they mean for :class:`~telegram.request.HTTPXRequest`:
    ``connect_timeout`` for opening a connection, ``read_timeout`` for each wait for data from
    the server once the request is sent. aiohttp
    has no per-write timeout: a form body is a few hundred bytes written at once, and for an
    upload ``media_write_timeout`` (or ``write_timeout`` if given) is added to the others into a
    bound on the whole call, so a stalled upload still ends in :class:`~telegram.error.TimedOut`
    (uploads of many megabytes need a larger ``media_write_timeout`` than with httpx).

    With ``trust_env`` (the default, as with httpx) an HTTP proxy named by ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` (and bypassed per ``NO_PROXY``) is used, looked up once per URL; aiohttp
    supports neither HTTPS nor SOCKS proxies.

    The session is opened by :meth:`initialize` (PTB calls it from ``Bot.initialize``) and
    closed by :meth:`shutdown`; it can be opened again after a shutdown.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_slots",
        "_timeouts",
        "_trust_env",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        *,
        trust_env: bool = True,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._trust_env = trust_env
        # aiohttp's own trust_env looks the environment up in a thread on every call: once per URL here.
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}
        # The pool bound is kept here rather than by aiohttp's connector, whose ``connect``
        # timeout covers waiting for a connection and opening one at once. (New with each
        # session: a semaphore belongs to the event loop it first waited in.)
        self._slots = asyncio.Semaphore(connection_pool_size)
        # One ClientTimeout per combination of timeouts: nearly every call uses the defaults.
        self._timeouts: dict[tuple[float | None, float | None, float | None, bool], aiohttp.ClientTimeout] = {}

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """PTB's :meth:`~telegram.request.BaseRequest.parse_json_payload` (the hook PTB offers for
        another JSON library), with orjson: a few times faster on every answer and long poll.
        What orjson refuses (bytes that are not UTF-8, a lone surrogate escape such as
        ``"\\ud800"``, or no JSON at all) goes to PTB's own, which decodes it as before or raises
        PTB's error."""
        try:
            parsed: dict[str, Any] = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)
        return parsed

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call leaves ``read_timeout`` at ``DEFAULT_NONE``.

        PTB adds a long poll's ``timeout`` to it for ``getUpdates``.
        """
        return self._read_timeout

    @property
    def http_version(self) -> str:
        """Always ``"1.1"`` (aiohttp's client speaks HTTP/1.1)."""
        return "1.1"

    async def initialize(self) -> None:
        """Open the session and its connection pool (again, after a :meth:`shutdown`)."""
        if self._session is None or self._session.closed:
            self._slots = asyncio.Semaphore(self._pool_size)
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                # Telegram sets no cookies; a jar would only cost a lookup per call.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                raise_for_status=False,
            )

    async def shutdown(self) -> None:
        """Close the session and every pooled connection; idempotent."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def post_json(
        self, url: str, body: JsonBody, read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE
    ) -> Any:
        """:meth:`~telegram.request.BaseRequest.post` of ``body`` as JSON: the same status handling,
        errors (PTB's ``_request_wrapper``), timeouts and pool; returns Telegram's ``result``."""
        # post() hands request_data to do_request untouched (tests/bot/channels/telegram/test_send_text.py).
        return await self.post(url, cast(RequestData, body), read_timeout=read_timeout)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | JsonBody | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the HTTP status and the body of the answer.

        Raises :class:`~telegram.error.TimedOut` or :class:`~telegram.error.NetworkError` (with
        the aiohttp exception as ``__cause__``) when no answer came; any HTTP status is returned.
        """
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        data, headers, upload = _body(request_data)
        timeout = self._timeout(
            given_or(read_timeout, self._read_timeout),
            given_or(write_timeout, self._media_write_timeout if upload else self._write_timeout),
            given_or(connect_timeout, self._connect_timeout),
            upload=upload,
        )
        if self._slots.locked():
            await self._wait_for_slot(given_or(pool_timeout, self._pool_timeout))
        else:
            await self._slots.acquire()  # free: returns at once
        try:
            proxy, proxy_auth = self._proxy(url) if self._trust_env else (None, None)
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's timeouts are TimeoutErrors (and OSErrors): first
            raise TimedOut from error
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        finally:
            self._slots.release()

    async def _wait_for_slot(self, pool_timeout: float | None) -> None:
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: All connections in the connection pool are occupied. "
                "Request was *not* sent to Telegram. Consider adjusting the connection "
                "pool size or the pool timeout."
            ) from PoolTimeout(f"no free connection within {pool_timeout} s")

    def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        found = self._proxies.get(url)
        if found is None:
            try:
                found = get_env_proxy_for_url(URL(url))
            except LookupError:
                found = (None, None)
            if len(self._proxies) >= 256:  # file URLs differ per file: never unbounded
                self._proxies.clear()
            self._proxies[url] = found
        return found

    def _timeout(
        self, read: float | None, write: float | None, connect: float | None, *, upload: bool
    ) -> aiohttp.ClientTimeout:
        key = (read, write, connect, upload)
        timeout = self._timeouts.get(key)
        if timeout is None:
            total = None
            if upload and connect is not None and write is not None and read is not None:
                # No per-write timeout in aiohttp: an upload as a whole gets its parts' sum.
                total = connect + write + read
            # The semaphore has already waited for the pool: ``connect`` is opening a connection.
            timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:  # a few distinct combinations in practice; never unbounded
                self._timeouts[key] = timeout
        return timeout


def _body(request_data: RequestData | JsonBody | None) -> tuple[Any, dict[str, str] | None, bool]:
    """The body to send, its headers, and whether it uploads files."""
    if isinstance(request_data, JsonBody):
        return request_data.encode(), _JSON_HEADERS, False
    if request_data is None:
        return None, None, False
    if request_data.contains_files:
        files = request_data.multipart_data
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=_filename(filename), content_type=mime_type)
            return form, None, True
    parameters = request_data.json_parameters
    if not parameters:
        return None, None, False
    return urlencode(parameters).encode(), {"Content-Type": FORM}, False


def _filename(name: str | None) -> str | None:
    """``name`` as httpx puts it in a multipart header (aiohttp adds the doubling of backslashes)."""
    if name is None:
        return None
    return _FILENAME_ESCAPES.sub(lambda match: f"%{ord(match.group()):02X}", name)


def certainly_not_sent(error: NetworkError) -> bool:
    """Whether a failed call surely had no effect: no connection, or Telegram answered 5xx.

    Understands both transports: :class:`AiohttpRequest` (refused or unreachable, no free pooled
    connection in time: not sent; connection lost mid-request or a read timeout: perhaps sent)
    and PTB's ``HTTPXRequest``.
    """
    cause = error.__cause__
    return isinstance(cause, NOT_SENT_ERRORS) or (cause is None and not isinstance(error, TimedOut))


#: ``to_dict()`` of the reply markups sent lately, by identity. A markup is frozen (PTB objects
#: are immutable once built) and :mod:`.rendering` shares one per keyboard, so its dict is built
#: once rather than per send (about 25 µs for a row of three buttons). The markup is kept with its
#: dict, so its id cannot be reused while the entry lives.
_markup_dicts: dict[int, tuple[TelegramObject, dict[str, Any]]] = {}
_MAX_MARKUPS = 1024


def _markup_dict(markup: TelegramObject) -> dict[str, Any]:
    found = _markup_dicts.get(id(markup))
    if found is not None and found[0] is markup:
        return found[1]
    as_dict = markup.to_dict()
    if len(_markup_dicts) >= _MAX_MARKUPS:
        _markup_dicts.clear()
    _markup_dicts[id(markup)] = (markup, as_dict)
    return as_dict


async def send_text(
    bot: Bot,
    chat_id: int | str,
    text: str,
    *,
    reply_markup: TelegramObject | dict[str, Any] | None = None,
    parse_mode: str | None = None,
    read_timeout: float | None = None,
    api_kwargs: dict[str, Any] | None = None,
    rate_limit_args: Any = None,
) -> Any:
    """``bot.send_message(chat_id, text, ...)`` with the same defaults, rate limiter, timeouts and
    errors, returning Telegram's JSON result (a dict) instead of a :class:`telegram.Message`.

    On an :class:`AiohttpRequest` the call skips PTB's per-parameter encoding: the parameters go
    as one JSON body straight to the bot's rate limiter and
    :meth:`~telegram.request.BaseRequest.post` (so the HTTP statuses become the same PTB errors);
    on any other request it goes through PTB (:func:`.ptb_compat.send_text`).
    ``api_kwargs`` values must be JSON values or PTB objects.
    """
    request = bot.request
    if not isinstance(request, AiohttpRequest):
        return await ptb_compat.send_text(
            bot,
            chat_id,
            text,
            reply_markup=reply_markup,
            parse_mode=parse_mode,
            read_timeout=read_timeout,
            api_kwargs=api_kwargs,
            rate_limit_args=rate_limit_args,
        )
    # What Bot._post would send: the parameters given, api_kwargs over them, no None values.
    data: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        data["reply_markup"] = _markup_dict(reply_markup) if isinstance(reply_markup, TelegramObject) else reply_markup
    if parse_mode is not None:
        data["parse_mode"] = parse_mode
    if api_kwargs:
        data.update((key, value) for key, value in api_kwargs.items() if value is not None)
    url = f"{bot.base_url}/sendMessage"
    timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE if read_timeout is None else read_timeout
    limiter = bot.rate_limiter if isinstance(bot, ExtBot) else None
    if limiter is None:
        if rate_limit_args and isinstance(bot, ExtBot):  # as ExtBot refuses them
            raise ValueError("`rate_limit_args` can only be used if a `ExtBot.rate_limiter` is set.")
        return await request.post_json(url, JsonBody(data), timeout)
    return await limiter.process_request(
        callback=request.post_json,
        args=(url, JsonBody(data), timeout),
        kwargs={},
        endpoint="sendMessage",
        data=data,
        rate_limit_args=rate_limit_args or None,
    )
