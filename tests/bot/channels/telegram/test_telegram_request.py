"""python-telegram-bot on the aiohttp transport (bot/channels/telegram/transport.py), over real sockets.

The Bot API calls go to the fake Bot API (testkit/fakes/telegram) or, for the transport failures,
to a small aiohttp server on 127.0.0.1 that misbehaves on purpose. Each failure must come out
as the exception PTB's own HTTPXRequest raises, and :func:`certainly_not_sent` must tell a call
that surely never reached Telegram from one that may have.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.transport import AiohttpRequest, certainly_not_sent
from testkit.fakes.telegram import FakeTelegramServer

TOKEN = "123:ABC"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=server.base_url, request=AiohttpRequest(connection_pool_size=4)) as real:
        yield real


async def raw_server(handler: Handler) -> TestServer:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    return test_server


def a_request_body() -> RequestData:
    return RequestData([RequestParameter("chat_id", 5, []), RequestParameter("text", "hi", [])])


async def test_a_message_goes_out_as_a_form_with_its_keyboard_and_comes_back_parsed(
    server: FakeTelegramServer, bot: Bot
) -> None:
    user = server.user(501)
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "answer:yes"}]]}
    sent = await bot.send_message(501, "Ünïcödé & 42 = ?", reply_markup=markup)  # type: ignore[arg-type]
    assert sent.text == "Ünïcödé & 42 = ?"
    call = server.last_call("sendMessage")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["chat_id"] == 501
    assert call.params["reply_markup"] == markup
    assert [m.text for m in user.bot_messages] == ["Ünïcödé & 42 = ?"]


async def test_telegram_refusing_a_call_is_the_same_ptb_error_as_with_httpx(
    server: FakeTelegramServer, bot: Bot
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999_999, "nobody")


async def test_a_photo_and_a_document_are_uploaded_as_multipart_with_name_and_bytes(
    server: FakeTelegramServer, bot: Bot
) -> None:
    server.user(502)
    photo = await bot.send_photo(502, PNG, caption="chart", filename="chart.png")
    document = await bot.send_document(502, b"a,b\n1,2\n", filename="table.csv", caption="the table")
    photo_call, document_call = server.last_call("sendPhoto"), server.last_call("sendDocument")
    assert photo_call.content_type == "multipart/form-data"
    assert photo_call.files["photo"].filename == "chart.png"
    assert photo_call.files["photo"].data == PNG
    assert photo_call.params["caption"] == "chart"
    assert document_call.files["document"].filename == "table.csv"
    assert server.file_bytes(document.document.file_id) == b"a,b\n1,2\n"  # type: ignore[union-attr]
    assert server.file_bytes(photo.photo[-1].file_id) == PNG


@pytest.mark.parametrize(
    "filename", ["Résultats 2026.csv", 'we "quote"; x=1.csv', "données\\back.pdf", "tab\tnew\nline.txt"]
)
async def test_an_upload_reaches_telegram_exactly_as_with_ptbs_httpx_transport(
    server: FakeTelegramServer, filename: str
) -> None:
    server.user(504)
    arrived = []
    for request in (HTTPXRequest(), AiohttpRequest()):
        async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
            await bot.send_document(504, b"x;y\n", filename=filename, caption='é "ok"')
        call = server.last_call("sendDocument")
        arrived.append((call.params, call.files["document"]))
    assert arrived[0] == arrived[1]


async def test_an_answer_slower_than_the_read_timeout_is_timed_out_and_perhaps_sent() -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.json_response({"ok": True, "result": True})

    test_server = await raw_server(slow)
    try:
        async with AiohttpRequest(read_timeout=0.2) as request:
            with pytest.raises(TimedOut) as caught:
                await request.post(str(test_server.make_url("/bot/sendMessage")), a_request_body())
        assert not certainly_not_sent(caught.value)
    finally:
        await test_server.close()


async def test_a_read_timeout_given_for_one_call_overrides_the_default() -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.json_response({"ok": True, "result": True})

    test_server = await raw_server(slow)
    try:
        async with AiohttpRequest(read_timeout=0.05) as request:
            url = str(test_server.make_url("/bot/sendMessage"))
            assert await request.post(url, a_request_body(), read_timeout=10) is True
            assert request.read_timeout == 0.05
    finally:
        await test_server.close()


async def test_a_refused_connection_is_a_network_error_that_certainly_sent_nothing() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot/sendMessage", a_request_body())
    assert not isinstance(caught.value, TimedOut)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert certainly_not_sent(caught.value)


async def test_no_free_pooled_connection_in_time_is_a_timeout_that_certainly_sent_nothing() -> None:
    release = asyncio.Event()

    async def held(_request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({"ok": True, "result": True})

    test_server = await raw_server(held)
    try:
        async with AiohttpRequest(connection_pool_size=1, pool_timeout=0.1) as request:
            url = str(test_server.make_url("/bot/sendMessage"))
            first = asyncio.create_task(request.post(url, a_request_body()))
            await asyncio.sleep(0.05)  # let the first call take the only connection
            with pytest.raises(TimedOut) as caught:
                await request.post(url, a_request_body())
            release.set()
            assert await first is True
        assert certainly_not_sent(caught.value)
    finally:
        await test_server.close()


async def test_a_server_closing_mid_answer_is_a_network_error_that_may_have_sent() -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b'{"ok": true, "res')
        assert request.transport is not None
        request.transport.abort()
        return response

    test_server = await raw_server(cut)
    try:
        async with AiohttpRequest() as request:
            with pytest.raises(NetworkError) as caught:
                await request.post(str(test_server.make_url("/bot/sendMessage")), a_request_body())
        assert not isinstance(caught.value, TimedOut)
        assert isinstance(caught.value.__cause__, aiohttp.ClientError)
        assert not certainly_not_sent(caught.value)
    finally:
        await test_server.close()


async def test_a_connection_dropped_after_telegram_acted_is_a_network_error_that_may_have_sent(
    server: FakeTelegramServer, bot: Bot
) -> None:
    user = server.user(503)
    server.drop_next("sendMessage", after_processing=True)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(503, "lost answer")
    assert not certainly_not_sent(caught.value)
    assert [m.text for m in user.bot_messages] == ["lost answer"]


async def test_an_http_proxy_named_in_the_environment_carries_the_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    async def proxy(request: web.Request) -> web.StreamResponse:  # answers in place of the origin
        seen.append((request.method, request.host))
        return web.json_response({"ok": True, "result": True})

    test_server = await raw_server(proxy)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", str(test_server.make_url("/")))
    try:
        async with AiohttpRequest() as request:
            assert await request.post("http://api.telegram.invalid/bot123:ABC/sendMessage", a_request_body()) is True
        assert seen == [("POST", "api.telegram.invalid")]
    finally:
        await test_server.close()


async def test_the_request_can_be_shut_down_and_opened_again(server: FakeTelegramServer) -> None:
    request = AiohttpRequest()
    url = f"{server.base_url}{TOKEN}/getMe"
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    async with request:
        me = await request.post(url)
        assert isinstance(me, dict) and me["is_bot"] is True


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ok": true, "result": {"message_id": 7, "text": "caf\xc3\xa9 \\u00e9 \\ud83d\\ude00"}}',
        b'{"ok": true, "result": [{"update_id": 1, "message": {"text": "lone \\ud800 surrogate"}}]}',
        b'{"ok": false, "error_code": 400, "description": "bad \xff byte"}',
        b"[1, 2.5, null]",
    ],
)
def test_telegram_answers_are_read_as_ptb_reads_them(payload: bytes) -> None:
    # orjson refuses the lone surrogate escape and the byte that is not UTF-8: PTB's own parse reads those.
    assert AiohttpRequest.parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)


def test_an_answer_that_is_not_json_is_ptbs_error() -> None:
    with pytest.raises(TelegramError, match="Invalid server response"):
        AiohttpRequest.parse_json_payload(b"<html>502 Bad Gateway</html>")
