"""The web chat's file uploads and shared locations over real HTTP on 127.0.0.1: what reaches the
core, the limits, and a 4xx (never a 500) for every malformed request."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.webchat.adapter import SESSION_COOKIE, session_update_key, session_user_key
from handlers.messages import Location, Upload
from testkit.fakes.scripted_survey import ScriptedSurvey, solid_png
from testkit.webchat_harness import webchat_app

Client = TestClient[web.Request, web.Application]
PHOTO = solid_png(64, 48, (200, 30, 30))
LIMIT = 64 * 1024


@asynccontextmanager
async def _client(processor: ScriptedSurvey, **kwargs: Any) -> AsyncIterator[Client]:
    client = TestClient(TestServer(webchat_app(processor, max_upload_bytes=LIMIT, **kwargs), host="127.0.0.1"))
    await client.start_server()
    try:
        async with client.get("/") as page:  # the session cookie, as the page gets it
            assert page.status == 200
        yield client
    finally:
        await client.close()


def _cookie(client: Client) -> str:
    """The session cookie as the server signed it."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value


def _session(client: Client) -> str:
    """The session token of the client's cookie (``<token>.<signature>``)."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value.partition(".")[0]


def _form(
    content: bytes = PHOTO,
    *,
    message_id: str | None = "up-1",
    kind: str | None = "image",
    filename: str = "IMG_0042 of Amina.png",
    content_type: str = "image/png",
) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # as browsers send names: spaces as they are
    if message_id is not None:
        form.add_field("id", message_id)
    if kind is not None:
        form.add_field("kind", kind)
    form.add_field("file", content, filename=filename, content_type=content_type)
    return form


async def _upload(client: Client, data: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    async with client.post("/api/upload", data=data, headers=headers) as response:
        return response.status, await response.json()


async def test_an_uploaded_file_reaches_the_core_as_an_upload_of_the_session() -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        status, body = await _upload(client, _form(), Origin=str(client.make_url("")).rstrip("/"))
        assert status == 200, body
        assert body["messages"] and body["max_upload_bytes"] == LIMIT
        (inbound,) = processor.inbounds
        session = _session(client)
        assert (inbound.user_key, inbound.update_key) == (
            session_user_key(session),
            session_update_key(session, "up-1"),
        )
        assert inbound.upload == Upload("image", PHOTO, "image/png", "IMG_0042 of Amina.png")
        assert (inbound.text, inbound.payload, inbound.location) == (None, None, None)

        # Without a kind, the file's type decides; a folder in the name is dropped; a malformed
        # type is octet-stream.
        status, _ = await _upload(
            client, _form(b"%PDF-1.4 ...", message_id="up-2", kind=None, filename="C:\\Users\\a\\form.pdf",
                          content_type="application/pdf")
        )  # fmt: skip
        assert status == 200
        assert processor.inbounds[-1].upload == Upload("file", b"%PDF-1.4 ...", "application/pdf", "form.pdf")
        status, _ = await _upload(
            client, _form(b"RIFF", message_id="up-3", kind=None, content_type="audio/ogg; codecs=opus")
        )
        assert status == 200 and processor.inbounds[-1].upload is not None
        assert (processor.inbounds[-1].upload.kind, processor.inbounds[-1].upload.mime_type) == ("audio", "audio/ogg")
        status, _ = await _upload(client, _form(b"x", message_id="up-4", kind="file", content_type="not a type"))
        assert status == 200 and processor.inbounds[-1].upload == Upload(
            "file", b"x", "application/octet-stream", "IMG_0042 of Amina.png"
        )


async def test_a_shared_location_reaches_the_core_as_a_location() -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        point = {"latitude": -1.2921, "longitude": 36.8219, "altitude": 1661.5, "accuracy": 12}
        async with client.post("/api/messages", json={"id": "g1", "location": point}) as response:
            assert response.status == 200
        assert processor.inbounds[-1].location == Location(-1.2921, 36.8219, 1661.5, 12.0)
        assert processor.inbounds[-1].text is None
        async with client.post("/api/messages", json={"id": "g2", "location": {"latitude": 0, "longitude": -180}}) as r:
            assert r.status == 200
        assert processor.inbounds[-1].location == Location(0.0, -180.0, None, None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"id": "b", "location": {"latitude": 91, "longitude": 0}}, "invalid_location"),
        ({"id": "b", "location": {"latitude": 1, "longitude": 181}}, "invalid_location"),
        ({"id": "b", "location": {"latitude": "1", "longitude": 2}}, "invalid_location"),
        ({"id": "b", "location": {"latitude": True, "longitude": 2}}, "invalid_location"),
        ({"id": "b", "location": {"longitude": 2}}, "invalid_location"),
        ({"id": "b", "location": {"latitude": 1, "longitude": 2, "accuracy": -1}}, "invalid_location"),
        ({"id": "b", "location": [1, 2]}, "invalid_location"),
        ({"id": "b", "location": {"latitude": 10**400, "longitude": 2}}, "invalid_location"),
        ({"id": "b", "location": {"latitude": 1, "longitude": 2}, "text": "1 2"}, "text_or_payload"),
    ],
)
async def test_a_malformed_location_is_refused_with_400(body: dict[str, Any], code: str) -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        async with client.post("/api/messages", json=body) as response:
            assert response.status == 400
            assert (await response.json())["error"] == code
        # NaN and Infinity are not JSON, but Python's reader takes them: refused too.
        raw = b'{"id": "n", "location": {"latitude": NaN, "longitude": Infinity}}'
        async with client.post("/api/messages", data=raw, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
    assert processor.inbounds == []


async def test_a_file_over_the_limit_is_refused_with_413_before_it_is_all_read() -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        status, body = await _upload(client, _form(os.urandom(LIMIT + 1)))
        assert (status, body["error"]) == (413, "too_large")
        assert "larger than 64 KB" in body["message"]
        status, _ = await _upload(client, _form(os.urandom(LIMIT)))
        assert status == 200, "exactly the limit is accepted"

        # Sent in chunks without a Content-Length, and the client stops sending after three times
        # the limit: the answer comes all the same, so the server did not wait for the whole body.
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        head = (
            "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Cookie: {SESSION_COOKIE}={_cookie(client)}\r\n\r\n"
        )
        writer.write(head.encode())
        start = (
            b'--b0undary\r\nContent-Disposition: form-data; name="id"\r\n\r\nbig\r\n'
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        )
        for chunk in (start, *[bytes(16 * 1024)] * (3 * LIMIT // (16 * 1024))):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
        writer.close()
    assert len(processor.inbounds) == 1


@pytest.mark.parametrize(
    ("form", "code", "status"),
    [
        (_form(message_id=None), "missing_id", 400),
        (_form(message_id="x" * 101), "id_too_long", 400),
        (_form(kind="photo"), "invalid_kind", 400),
        (_form(b""), "empty_file", 400),
        (aiohttp.FormData({"id": "1", "other": "x" * 1000}, default_to_multipart=True), "invalid_upload", 400),
        (aiohttp.FormData([("id", "1"), ("id", "2")], default_to_multipart=True), "invalid_upload", 400),
    ],
)
async def test_a_malformed_upload_form_is_refused(form: aiohttp.FormData, code: str, status: int) -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        assert (await _upload(client, form))[1]["error"] == code
    assert processor.inbounds == []


async def test_uploads_need_the_session_the_origin_and_a_multipart_form() -> None:
    processor = ScriptedSurvey()
    async with _client(processor) as client:
        status, body = await _upload(client, _form(), Origin="https://evil.example")
        assert (status, body["error"]) == (403, "forbidden_origin")
        status, body = await _upload(client, b'{"id": "1"}', **{"Content-Type": "application/json"})
        assert (status, body["error"]) == (415, "unsupported_media_type")
        no_file = aiohttp.FormData({"id": "1", "kind": "image"}, default_to_multipart=True)
        status, body = await _upload(client, no_file)
        assert (status, body["error"]) == (400, "missing_file")
        client.session.cookie_jar.clear()
        status, body = await _upload(client, _form())
        assert (status, body["error"]) == (403, "no_session"), "a cross-site form comes without the cookie"
    assert processor.inbounds == []


async def test_garbage_multipart_bodies_get_4xx_never_500() -> None:
    processor = ScriptedSurvey()
    generator = random.Random(16)
    bodies = [
        b"",
        b"--b\r\n",
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',  # never closed
        b"--b\r\nno headers at all\r\n--b--\r\n",
        b'--b\r\nContent-Disposition: form-data; name="id"\r\n\r\n\xff\xfe\r\n--b--\r\n',
        b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--b--\r\n",
        *(bytes(generator.randrange(256) for _ in range(generator.randrange(1, 400))) for _ in range(40)),
        *(b"--b\r\n" + bytes(generator.randrange(256) for _ in range(200)) for _ in range(20)),
    ]
    async with _client(processor) as client:
        for body in bodies:
            for content_type in ("multipart/form-data; boundary=b", "multipart/form-data"):
                async with client.post("/api/upload", data=body, headers={"Content-Type": content_type}) as response:
                    assert 400 <= response.status < 500, (body, content_type, await response.text())
    assert processor.inbounds == []
