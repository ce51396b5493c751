"""The web chat channel: HTTP contract (real HTTP on 127.0.0.1) and the page in headless Chromium."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.webchat.adapter import (
    SESSION_COOKIE,
    _first_language,
    add_webchat_routes,
    session_update_key,
    session_user_key,
)
from handlers.messages import RESUME_PAYLOAD, Attachment, Button, Inbound, Outbound

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/webchat.png")
SCREENSHOT_DESKTOP = Path("/tmp/webchat-desktop.png")


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small solid-colour PNG, made here so the test needs no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


CHART = _png(120, 48, (11, 87, 164))
GREETING = "Welcome to the Baraza test survey.\nIt has two questions."
NAME_QUESTION = "What is your name?"
JOB_QUESTION = "Do you have a job?"
JOB_BUTTONS = ((Button("Yes", "job:yes"), Button("No", "job:no")),)


class ScriptedSurvey:
    """A two-question survey standing in for the core: records every Inbound it gets and, as
    the core does, answers a repeated ``(channel, update_key)`` with the replies it gave."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.state: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self._done: dict[tuple[str, str], list[Outbound]] = {}

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.inbounds.append(inbound)
        if inbound.payload == "boom":
            raise RuntimeError("the core failed")
        key = (inbound.channel, inbound.update_key)
        if key not in self._done:
            self._done[key] = self._step(inbound)
        return self._done[key]

    def _step(self, inbound: Inbound) -> list[Outbound]:
        chat = inbound.chat_key
        state = self.state.get(chat, "new")
        if inbound.payload == RESUME_PAYLOAD:
            return [self._current(chat, state)]
        if state == "new" and inbound.payload == "start":
            self.state[chat] = "name"
            return [
                Outbound(GREETING + "\n✓ Started", replaces_pressed=True),
                Outbound(NAME_QUESTION),
            ]
        if state == "name" and inbound.text is not None:
            self.names[chat] = inbound.text.strip()
            self.state[chat] = "job"
            return [Outbound(JOB_QUESTION, buttons=JOB_BUTTONS)]
        if state == "job" and inbound.payload in ("job:yes", "job:no"):
            self.state[chat] = "done"
            label = "Yes" if inbound.payload == "job:yes" else "No"
            return [
                Outbound(f"{JOB_QUESTION}\n✓ {label}", replaces_pressed=True),
                self._current(chat, "done"),
            ]
        return [Outbound("Sorry, I did not understand that.")]

    def _current(self, chat: str, state: str) -> Outbound:
        if state == "name":
            return Outbound(NAME_QUESTION)
        if state == "job":
            return Outbound(JOB_QUESTION, buttons=JOB_BUTTONS)
        if state == "done":
            return Outbound(
                f"Thank you, {self.names.get(chat, 'friend')}! Here is your chart.",
                attachment=Attachment("image", "chart.png", CHART, "image/png"),
            )
        return Outbound(GREETING, buttons=((Button("Start", "start"),),))


def _app(processor: ScriptedSurvey, **kwargs: Any) -> web.Application:
    app = web.Application()
    add_webchat_routes(app, processor, **kwargs)
    return app


@asynccontextmanager
async def _clients(
    processor: ScriptedSurvey, count: int = 1, **kwargs: Any
) -> AsyncIterator[list[TestClient[web.Request, web.Application]]]:
    server = TestServer(_app(processor, **kwargs), host="127.0.0.1")
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
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE]
    return cookie.value


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
                }
            ]
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
        assert attachment["filename"] == "chart.png"
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


# ---- the page in a real browser ----------------------------------------------------------------


def _async_playwright_or_skip() -> Any:
    reason = None
    async_playwright: Any = None
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        reason = "Playwright for Python is not installed (pip install playwright)"
    if reason is None and not os.access(CHROMIUM, os.X_OK):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)
    return async_playwright


@asynccontextmanager
async def _serve(processor: ScriptedSurvey) -> AsyncIterator[str]:
    runner = web.AppRunner(_app(processor))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_page_in_headless_chromium() -> None:
    async_playwright = _async_playwright_or_skip()
    from playwright.async_api import expect

    processor = ScriptedSurvey()
    async with _serve(processor) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="sw-KE")
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None,
            )

            await page.goto(url)
            log = page.get_by_role("log")
            bot = log.locator(".msg.bot")
            user = log.locator(".msg.user .text")
            box = page.get_by_label("Your message")

            # The resumed greeting, its line break kept, with its button.
            await expect(bot).to_have_count(1)
            greeting = bot.first
            await expect(greeting.locator(".text")).to_have_text(GREETING)
            assert await greeting.locator(".text").evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
            assert await greeting.locator(".text").evaluate("el => el.innerText") == GREETING
            await expect(greeting.get_by_role("button", name="Start")).to_be_visible()
            resume = processor.inbounds[0]
            assert (resume.payload, resume.language_hint) == (RESUME_PAYLOAD, "sw-KE")

            # Pressing a button: its label as the user's message, the greeting updated in place.
            await greeting.evaluate("el => { el.dataset.marker = 'greeting'; }")
            await greeting.get_by_role("button", name="Start").click()
            await expect(user).to_have_text(["Start"])
            await expect(bot).to_have_count(2)
            await expect(bot.first).to_have_attribute("data-marker", "greeting")
            await expect(bot.first.locator(".text")).to_have_text(GREETING + "\n✓ Started")
            await expect(bot.first.get_by_role("button")).to_have_count(0)
            await expect(bot.nth(1).locator(".text")).to_have_text(NAME_QUESTION)

            # Typing an answer: shown on the right, focus back in the box.
            await box.fill("Amina")
            await box.press("Enter")
            await expect(user.nth(1)).to_have_text("Amina")
            await expect(box).to_have_value("")
            await expect(box).to_be_focused()
            question = bot.nth(2)
            await expect(question.locator(".text")).to_have_text(JOB_QUESTION)
            user_box = await user.nth(1).bounding_box()
            bot_box = await question.bounding_box()
            assert user_box and bot_box and user_box["x"] > bot_box["x"], "user right, bot left"

            await expect(question.get_by_role("button", name="No")).to_be_visible()
            await page.screenshot(path=str(SCREENSHOT))
            await page.set_viewport_size({"width": 1280, "height": 800})
            await page.screenshot(path=str(SCREENSHOT_DESKTOP))
            await page.set_viewport_size({"width": 360, "height": 740})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scroll"

            # Keyboard press on a choice: the question is closed in place, the thanks appended.
            await question.evaluate("el => { el.dataset.marker = 'job'; }")
            await question.get_by_role("button", name="Yes").focus()
            await page.keyboard.press("Enter")
            await expect(user.nth(2)).to_have_text("Yes")
            await expect(log.locator("[data-marker=job] .text")).to_have_text(f"{JOB_QUESTION}\n✓ Yes")
            await expect(log.locator("[data-marker=job] button")).to_have_count(0)
            await expect(bot).to_have_count(4)
            thanks = bot.nth(3)
            await expect(thanks.locator(".text")).to_have_text("Thank you, Amina! Here is your chart.")
            image = thanks.get_by_role("img", name="Image: chart.png")
            await expect(image).to_be_visible()
            assert await image.evaluate("img => img.complete && img.naturalWidth") == 120

            # Markup in a message is shown as text, never interpreted.
            await box.fill("<b>bold</b> <img src=x>")
            await page.get_by_role("button", name="Send").click()
            await expect(user.nth(3)).to_have_text("<b>bold</b> <img src=x>")
            await expect(bot).to_have_count(5)
            assert await log.locator("b").count() == 0
            await expect(box).to_be_focused()

            # Coming back: the same session, the page resumes where the user was.
            await page.reload()
            await expect(bot).to_have_count(1)
            await expect(bot.first.locator(".text")).to_have_text("Thank you, Amina! Here is your chart.")
            assert processor.inbounds[-1].user_key == resume.user_key
            assert problems == []
        finally:
            await browser.close()


@pytest.mark.asyncio
async def test_page_retries_once_with_the_same_id_then_shows_an_error() -> None:
    async_playwright = _async_playwright_or_skip()
    from playwright.async_api import Route, expect

    processor = ScriptedSurvey()
    posted_ids: list[str] = []
    fail_next = {"after_server": 1, "before_server": 0}

    async def flaky(route: Route) -> None:
        posted_ids.append(json.loads(route.request.post_data or "{}")["id"])
        if fail_next["after_server"]:
            # The server handles it, but the answer is lost on the way back.
            fail_next["after_server"] -= 1
            await route.fetch()
            await route.abort("connectionreset")
        elif fail_next["before_server"]:
            fail_next["before_server"] -= 1
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    async with _serve(processor) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.route("**/api/messages", flaky)
            await page.goto(url)
            log = page.get_by_role("log")

            # The lost answer is fetched again with the same id; the greeting shows once.
            await expect(log.locator(".msg.bot")).to_have_count(1)
            await expect(log.locator(".msg.bot .text")).to_have_text(GREETING)
            assert len(posted_ids) == 2 and posted_ids[0] == posted_ids[1]
            assert len(processor.inbounds) == 2
            assert processor.inbounds[0].update_key == processor.inbounds[1].update_key

            # Both tries fail: an error line, the text back in the box; nothing reached the core.
            fail_next["before_server"] = 2
            box = page.get_by_label("Your message")
            await box.fill("hello")
            await box.press("Enter")
            await expect(log.locator(".msg.error")).to_contain_text("could not be sent")
            await expect(log.locator(".msg.user.failed")).to_contain_text("Not sent")
            await expect(box).to_have_value("hello")
            assert len(posted_ids) == 4 and posted_ids[2] == posted_ids[3] != posted_ids[0]
            assert len(processor.inbounds) == 2

            # The next send gets a fresh id and goes through.
            await page.get_by_role("button", name="Send").click()
            await expect(log.locator(".msg.bot")).to_have_count(2)
            assert len(posted_ids) == 5 and posted_ids[4] not in posted_ids[:4]
            ids = [inbound.update_key for inbound in processor.inbounds]
            assert ids[-1] not in ids[:-1]
            assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in posted_ids)
        finally:
            await browser.close()
