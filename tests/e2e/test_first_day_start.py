"""``baraza run`` on a first day, as a real child process: start-up problems end with one line
naming what to change (no traceback); an unreachable Telegram leaves the web chat answering and
``/healthz`` saying Telegram is degraded (issue 17, "degrade, never die")."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from testkit.telegram_harness import FORMS, PSEUDONYM_KEY, ROOT, free_port
from testkit.webchat_harness import WebVisitor

CONFIG = f"surveys: {{directory: {FORMS}}}\nweb: {{host: 127.0.0.1, port: 8080}}\n"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BARAZA_")}
    env.update(BARAZA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'baraza.db'}", BARAZA_PSEUDONYM_KEY=PSEUDONYM_KEY)
    env.update(extra)
    return env


def baraza_run(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def test_a_busy_port_ends_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = finished(baraza_run(config_file(tmp_path), environment(tmp_path, BARAZA_WEB_PORT=str(port))))
    assert code != 0
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"port {port}" in lines[0] and "web.port" in lines[0] and "BARAZA_WEB_PORT" in lines[0]


def test_an_unreachable_database_ends_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://baraza:secret-password@127.0.0.1:{free_port()}/baraza"
    env = environment(tmp_path, BARAZA_WEB_PORT="0", BARAZA_DATABASE_URL=url)
    code, out, err = finished(baraza_run(config_file(tmp_path), env))
    assert code != 0
    assert "Traceback" not in err + out and "secret-password" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "BARAZA_DATABASE_URL" in lines[0], err


def test_an_unreadable_config_ends_with_one_line(tmp_path: Path) -> None:
    unreadable = tmp_path / "config.yaml"
    unreadable.mkdir()  # exists, but cannot be read as a file (root reads any file mode)
    code, out, err = finished(baraza_run(unreadable, environment(tmp_path, BARAZA_WEB_PORT="0")))
    assert code != 0
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(unreadable) in lines[0] and "cannot be read" in lines[0], err


async def test_a_bogus_token_without_telegram_keeps_the_web_chat_and_says_degraded(tmp_path: Path) -> None:
    port = free_port()
    env = environment(
        tmp_path,
        BARAZA_WEB_PORT=str(port),
        BARAZA_TELEGRAM_TOKEN="123:bogus",
        BARAZA_TELEGRAM_BASE_URL=f"http://127.0.0.1:{free_port()}/bot",  # nobody listens: no network
    )
    process = baraza_run(config_file(tmp_path), env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
            for _ in range(600):
                assert process.poll() is None, process.communicate()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with client.get(f"{base}/healthz") as response:
                        break
                await asyncio.sleep(0.05)
            # The web chat answers while the first connection to Telegram is still being tried...
            replies = await WebVisitor(client, base).post(text="/start")
            assert replies and replies[0]["text"]
            for _ in range(300):  # ...and /healthz tells once that try has failed (retries within ~6 s)
                async with client.get(f"{base}/healthz") as response:
                    body = await response.json()
                if body["channels"]["telegram"] != "starting":
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # the old bot exited with a traceback a few seconds after that
            assert process.poll() is None, "the process died"
            assert await WebVisitor(client, base).post(text="/help")
            assert response.status == 200 and body["status"] == "degraded"
            assert body["channels"] == {"web": "connected", "telegram": "degraded"}
            async with client.get(f"{base}/admin/login") as response:
                assert response.status == 200, "the dashboard answers"
    finally:
        process.terminate()
        code, _, err = finished(process)
    assert code == 0
    assert "Traceback" not in err
    assert "bogus" not in err, "the token is never logged"
    assert "telegram channel degraded: cannot connect to the Bot API" in err
