"""The web chat channel: HTTP contract (real HTTP on 127.0.0.1); the page in Chromium is in tests/browser."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.webchat.adapter import (
    MAX_UPLOAD_BYTES,
    SESSION_COOKIE,
    _first_language,
    session_update_key,
    session_user_key,
)
from handlers.messages import RESUME_PAYLOAD
from testkit.fakes.scripted_survey import CHART, CHART_ALT, GREETING, JOB_QUESTION, NAME_QUESTION, ScriptedSurvey
from testkit.webchat_harness import webchat_app


@asynccontextmanager
async def _clients(
    processor: ScriptedSurvey, count: int = 1, **kwargs: Any
) -> AsyncIterator[list[TestClient[web.Request, web.Application]]]:
    server = TestServer(webchat_app(processor, **kwargs), host="127.0.0.1")
    clients = [TestClient(server) for _ in range(count)]
    for client in clients:
        await client.start_server()
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()
        await server.close()


def _session(client: TestClient[web.Request, web.Application]) -> str:
    """The session token of the client's cookie (``<token>.<signature>``)."""
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", cookie.value)
    return cookie.value.partition(".")[0]


async def _post(
    client: TestClient[web.Request, web.Application],
    body: dict[str, Any],
    **headers: str,
) -> tuple[int, Any]:
    async with client.post("/api/messages", json=body, headers=headers) as response:
        return response.status, await response.json()


# ---- HTTP ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_page_and_static_files_are_served() -> None:
    async with _clients(ScriptedSurvey()) as (client,):
        async with client.get("/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            page = await response.text()
            assert "<title>Baraza</title>" in page
            assert 'role="log"' in page and 'aria-live="polite"' in page
            assert '<label for="message-input"' in page
            assert 'src="/static/chat.js"' in page and 'href="/static/chat.css"' in page
            assert not re.search(r"(src|href)=\"(https?:)?//", page), "everything must be local"
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            set_cookie = response.headers["Set-Cookie"]
            assert f"{SESSION_COOKIE}=" in set_cookie

        async with client.get("/static/chat.js") as response:
            assert response.status == 200
            assert response.content_type == "text/javascript"
            script = await response.text()
            assert "textContent" in script
            assert "innerHTML" not in script and "insertAdjacentHTML" not in script
            assert f'"{RESUME_PAYLOAD}"' in script

        async with client.get("/static/chat.css") as response:
            assert response.status == 200
            assert response.content_type == "text/css"
            assert "pre-wrap" in await response.text()

        for path in (
            "/static/index.html",
            "/static/../webchat.py",
            "/static/missing.js",
        ):
            async with client.get(path) as response:
                assert response.status == 404, path
        async with client.get("/api/messages") as response:
            assert response.status == 405


@pytest.mark.asyncio
async def test_session_cookie_is_stable_per_client_and_distinct_between_clients() -> None:
    processor = ScriptedSurvey()
    async with _clients(processor, count=2) as (alice, bob):
        async with alice.post("/api/messages", json={"id": "a1", "payload": RESUME_PAYLOAD}) as response:
            assert response.status == 200
            set_cookie = response.headers["Set-Cookie"]
        assert re.search(r"(?i)\bhttponly\b", set_cookie)
        assert re.search(r"(?i)samesite=strict", set_cookie)
        assert re.search(r"(?i)path=/(;|$)", set_cookie)
        alice_token = _session(alice)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", alice_token)

        await _post(alice, {"id": "a2", "payload": "start"})
        await _post(alice, {"id": "a3", "text": "Amina"})
        await _post(bob, {"id": "b1", "payload": RESUME_PAYLOAD})
        assert _session(alice) == alice_token
        bob_token = _session(bob)
        assert bob_token != alice_token

    by_update = {inbound.update_key: inbound for inbound in processor.inbounds}
    for key in ("a1", "a2", "a3"):
        inbound = by_update[session_update_key(alice_token, key)]
        assert inbound.user_key == inbound.chat_key == session_user_key(alice_token)
    inbound = by_update[session_update_key(bob_token, "b1")]
    assert inbound.user_key == inbound.chat_key == session_user_key(bob_token)
    assert alice_token not in {i.user_key for i in processor.inbounds}, "the core never sees the cookie"


@pytest.mark.asyncio
async def test_page_load_starts_the_session_and_bad_cookies_are_replaced() -> None:
    processor = ScriptedSurvey()
    async with _clients(processor) as (client,):
        async with client.get("/"):
            pass
        token = _session(client)
        await _post(client, {"id": "1", "payload": RESUME_PAYLOAD})
        assert processor.inbounds[-1].user_key == session_user_key(token)

        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({SESSION_COOKIE: "forged; or short"})
        await _post(client, {"id": "2", "payload": RESUME_PAYLOAD})
        fresh = _session(client)
        assert fresh not in (token, "forged; or short")
        assert processor.inbounds[-1].user_key == session_user_key(fresh)


@pytest.mark.asyncio
async def test_text_and_payload_reach_the_processor_with_their_fields() -> None:
    processor = ScriptedSurvey()
    async with _clients(processor, channel="web-test") as (client,):
        before = datetime.now(UTC)
        status, _ = await _post(
            client,
            {"id": "0b7c2a1e-press", "payload": "start"},
            **{"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5"},
        )
        assert status == 200
        status, _ = await _post(client, {"id": "0b7c2a1e-text", "text": "  Amina\nWanjiru "})
        assert status == 200
        after = datetime.now(UTC)
        token = _session(client)

    press, typed = processor.inbounds
    assert (press.channel, press.update_key, press.payload, press.text) == (
        "web-test",
        session_update_key(token, "0b7c2a1e-press"),
        "start",
        None,
    )
    assert press.language_hint == "fr-CH"
    assert (typed.channel, typed.update_key, typed.payload) == (
        "web-test",
        session_update_key(token, "0b7c2a1e-text"),
        None,
    )
    assert typed.text == "  Amina\nWanjiru ", "the text reaches the core unchanged"
    assert typed.language_hint is None
    for inbound in (press, typed):
        assert inbound.received_at is not None
        assert inbound.received_at.utcoffset() == timedelta(0)
        assert before <= inbound.received_at <= after


def test_first_language_of_accept_language() -> None:
    assert _first_language("sw-KE,sw;q=0.9,en;q=0.8") == "sw-KE"
    assert _first_language("en;q=0.5, fr") == "fr"
    assert _first_language("*, de;q=0.3") == "de"
    assert _first_language("x_bad, pt-BR;q=0") is None
    assert _first_language("") is None
    assert _first_language(None) is None


@pytest.mark.asyncio
async def test_replies_are_serialized_as_specified() -> None:
    async with _clients(ScriptedSurvey()) as (client,):
        status, greeting = await _post(client, {"id": "1", "payload": RESUME_PAYLOAD})
        assert status == 200
        assert greeting == {
            "messages": [
                {
                    "text": GREETING,
                    "buttons": [[{"label": "Start", "payload": "start"}]],
                    "attachment": None,
                    "replaces_pressed": False,
                    "expects": None,
                    "location_button": None,
                }
            ],
            "max_upload_bytes": MAX_UPLOAD_BYTES,
        }
        _, started = await _post(client, {"id": "2", "payload": "start"})
        assert [(m["text"], m["replaces_pressed"], m["buttons"]) for m in started["messages"]] == [
            (GREETING + "\n✓ Started", True, []),
            (NAME_QUESTION, False, []),
        ]
        _, job = await _post(client, {"id": "3", "text": "Amina"})
        assert job["messages"][0]["buttons"] == [
            [
                {"label": "Yes", "payload": "job:yes"},
                {"label": "No", "payload": "job:no"},
            ]
        ]
        _, done = await _post(client, {"id": "4", "payload": "job:no"})
        closed, thanks = done["messages"]
        assert closed["text"] == f"{JOB_QUESTION}\n✓ No" and closed["replaces_pressed"] is True
        attachment = thanks["attachment"]
        prefix = "data:image/png;base64,"
        assert attachment["kind"] == "image"
        assert attachment["filename"] == "chart.png" and attachment["alt"] == CHART_ALT
        assert attachment["mime_type"] == "image/png"
        assert attachment["data_url"].startswith(prefix)
        assert base64.b64decode(attachment["data_url"][len(prefix) :]) == CHART

        async with client.post("/api/messages", json={"id": "5", "payload": RESUME_PAYLOAD}) as response:
            assert response.content_type == "application/json"
            assert response.headers["Cache-Control"] == "no-store"


BAD_BODIES: list[tuple[str, bytes]] = [
    ("not json", b"hello"),
    ("invalid utf-8", b'{"id": "1", "text": "\xff"}'),
    ("json array", b'[{"id": "1", "text": "hi"}]'),
    ("missing id", b'{"text": "hi"}'),
    ("empty id", b'{"id": "", "text": "hi"}'),
    ("numeric id", b'{"id": 7, "text": "hi"}'),
    ("id of 101 characters", json.dumps({"id": "x" * 101, "text": "hi"}).encode()),
    ("both text and payload", b'{"id": "1", "text": "hi", "payload": "start"}'),
    ("neither text nor payload", b'{"id": "1"}'),
    ("text not a string", b'{"id": "1", "text": ["hi"]}'),
    ("blank text", b'{"id": "1", "text": "  \\n "}'),
    (
        "text of 4097 characters",
        json.dumps({"id": "1", "text": "é" * 4097}, ensure_ascii=False).encode(),
    ),
    ("payload not a string", b'{"id": "1", "payload": {"a": 1}}'),
]


@pytest.mark.asyncio
async def test_bad_requests_are_rejected_before_the_processor() -> None:
    processor = ScriptedSurvey()
    json_header = {"Content-Type": "application/json"}
    async with _clients(processor) as (client,):
        port = client.port
        assert port is not None
        for name, body in BAD_BODIES:
            async with client.post("/api/messages", data=body, headers=json_header) as response:
                assert response.status == 400, name
                error = await response.json()
                assert isinstance(error["error"], str) and error["message"], name

        # The limits themselves are allowed.
        at_limits = json.dumps({"id": "y" * 100, "text": "é" * 4096}, ensure_ascii=False).encode()
        async with client.post("/api/messages", data=at_limits, headers=json_header) as response:
            assert response.status == 200

        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            async with client.post(
                "/api/messages",
                data=b'{"id": "1", "text": "hi"}',
                headers={"Content-Type": content_type},
            ) as response:
                assert response.status == 415, content_type
                assert (await response.json())["error"] == "unsupported_media_type"

        for origin in (
            "http://evil.example",
            "null",
            f"http://127.0.0.1:{port + 1}",
            "file://",
        ):
            status, error = await _post(client, {"id": "o", "text": "hi"}, Origin=origin)
            assert (status, error["error"]) == (403, "forbidden_origin"), origin
        status, _ = await _post(
            client,
            {"id": "o2", "payload": RESUME_PAYLOAD},
            Origin=f"http://127.0.0.1:{port}",
        )
        assert status == 200

        big = json.dumps({"id": "1", "text": "a" * 17_000}).encode()
        async with client.post("/api/messages", data=big, headers=json_header) as response:
            assert response.status == 413
            assert (await response.json())["error"] == "too_large"

        async def chunked() -> AsyncIterator[bytes]:
            yield b'{"id": "1", "text": "'
            for _ in range(20):
                yield b"a" * 1024
            yield b'"}'

        async with client.post("/api/messages", data=chunked(), headers=json_header) as response:
            assert response.status == 413

        token = _session(client)
    assert [inbound.update_key for inbound in processor.inbounds] == [
        session_update_key(token, "y" * 100),
        session_update_key(token, "o2"),
    ]


@pytest.mark.asyncio
async def test_processor_failure_is_a_json_500_and_nothing_secret_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_text = "my secret answer 4711"
    caplog.set_level(logging.DEBUG)
    async with _clients(ScriptedSurvey()) as (client,):
        await _post(client, {"id": "1", "payload": "start"})
        status, _ = await _post(client, {"id": "2", "text": secret_text})
        assert status == 200
        status, error = await _post(client, {"id": "3", "payload": "boom"})
        assert (status, error["error"]) == (500, "internal_error")
        token = _session(client)

    assert any("webchat" in record.getMessage() for record in caplog.records)
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert secret_text not in logged
    assert token not in logged
