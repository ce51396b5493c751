"""The installation's keys (bot/keys.py and ``baraza keys``): generated into a 0600 key file,
never in the database; an unsafe key file refused; keys of an earlier release moved out of the
database; a wrong pseudonym key refused; rotation rewrites the stored pseudonyms (both backends)."""

from __future__ import annotations

import asyncio
import io
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot import keys
from bot.admin.auth import SESSION_COOKIE
from bot.admin.routes import add_admin_routes
from bot.cli.main import main
from bot.core.engine import Engine
from handlers.context import Community
from storage import audit
from storage.database import Database
from storage.pseudonyms import Pseudonymizer
from storage.staff import StaffRepository
from surveys.model import Survey
from testkit.admin import PASSWORD, sign_in
from testkit.fakes.engine_user import EngineUser

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


async def _settings_rows(database: Database) -> dict[str, str]:
    async with database.reading() as connection:
        rows = await connection.execute(text("SELECT key, value FROM instance_settings"))
        return {row.key: row.value for row in rows}


async def test_keys_are_generated_into_a_private_key_file_and_never_into_the_database(
    database: Database, tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets" / "baraza.keys"
    source = keys.KeySource({}, key_file)
    pseudonym_key = await keys.installation_key(database, source, keys.PSEUDONYM_KEY)
    cookie_key = await keys.installation_key(database, source, keys.COOKIE_KEY)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys.read_key_file(key_file) == {"pseudonym_key": pseudonym_key, "cookie_key": cookie_key}
    assert await keys.installation_key(database, source, keys.PSEUDONYM_KEY) == pseudonym_key, "stable"
    stored = await _settings_rows(database)
    assert set(stored) == {keys.FINGERPRINT_SETTING}
    assert pseudonym_key not in str(stored) and cookie_key not in str(stored)
    # The environment wins over the file.
    given = keys.KeySource({keys.COOKIE_KEY: "c" * 40}, key_file)
    assert await keys.installation_key(database, given, keys.COOKIE_KEY) == "c" * 40


async def test_a_key_file_others_can_read_is_refused(database: Database, tmp_path: Path) -> None:
    key_file = tmp_path / "baraza.keys"
    key_file.write_text("pseudonym_key = 0123456789abcdef0123\n")
    key_file.chmod(0o644)
    with pytest.raises(keys.KeyFileError, match="chmod 600"):
        await keys.installation_key(database, keys.KeySource({}, key_file), keys.PSEUDONYM_KEY)
    key_file.chmod(0o600)
    key_file.write_text("# comment\n\npseudonym_key 0123456789abcdef0123\n")
    with pytest.raises(keys.KeyFileError, match=rf"{key_file}:3: expected 'name = value'"):
        keys.read_key_file(key_file)


async def test_keys_of_an_earlier_release_move_from_the_database_to_the_key_file(
    database: Database, tmp_path: Path
) -> None:
    old_pseudonym, old_cookie = "an-old-pseudonym-key-made-by-0.x", "d" * 64
    async with database.transaction() as connection:
        await connection.execute(
            text("INSERT INTO instance_settings (key, value) VALUES ('pseudonym_key', :p), ('admin_cookie_key', :c)"),
            {"p": old_pseudonym, "c": old_cookie},
        )
    nowhere = keys.KeySource({}, None)
    with pytest.raises(keys.KeyFileError, match="plain text in the database"):
        await keys.installation_key(database, nowhere, keys.PSEUDONYM_KEY)
    key_file = tmp_path / "baraza.keys"
    source = keys.KeySource({}, key_file)
    assert await keys.installation_key(database, source, keys.PSEUDONYM_KEY) == old_pseudonym
    assert await keys.installation_key(database, source, keys.COOKIE_KEY) == old_cookie
    assert keys.read_key_file(key_file) == {"pseudonym_key": old_pseudonym, "cookie_key": old_cookie}
    assert set(await _settings_rows(database)) == {keys.FINGERPRINT_SETTING}


async def test_a_key_left_in_the_database_that_the_environment_also_gives_is_deleted(
    database: Database, tmp_path: Path
) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            text("INSERT INTO instance_settings (key, value) VALUES ('admin_cookie_key', :c), ('pseudonym_key', :p)"),
            {"c": "a" * 64, "p": "an-old-pseudonym-key-made-by-0.x"},
        )
    same = keys.KeySource({keys.COOKIE_KEY: "a" * 64}, None)
    assert await keys.installation_key(database, same, keys.COOKIE_KEY) == "a" * 64
    assert "admin_cookie_key" not in await _settings_rows(database)
    # A different key in the environment: the database's is kept beside it in the key file.
    key_file = tmp_path / "baraza.keys"
    other = keys.KeySource({keys.PSEUDONYM_KEY: "the-environments-key-0123"}, key_file)
    assert await keys.installation_key(database, other, keys.PSEUDONYM_KEY) == "the-environments-key-0123"
    assert keys.read_key_file(key_file) == {"pseudonym_key_replaced": "an-old-pseudonym-key-made-by-0.x"}
    assert set(await _settings_rows(database)) == {keys.FINGERPRINT_SETTING}


async def test_a_pseudonym_key_other_than_the_databases_is_refused(database: Database, tmp_path: Path) -> None:
    first = keys.KeySource({keys.PSEUDONYM_KEY: "the-first-key-0123456789"}, None)
    await keys.load_pseudonymizer(database, first)
    other = keys.KeySource({keys.PSEUDONYM_KEY: "another-key-0123456789"}, None)
    with pytest.raises(keys.KeyFileError, match="not the one the pseudonyms in this database were made with"):
        await keys.load_pseudonymizer(database, other)


def _config(tmp_path: Path, database_url: str, key_file: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: '{database_url}'}}\nprivacy: {{key_file: '{key_file}'}}\n")
    return config


async def _respondents(database: Database) -> list[str]:
    async with database.reading() as connection:
        rows = await connection.execute(text("SELECT respondent FROM responses ORDER BY started_at, id"))
        return [row.respondent for row in rows]


def test_rotating_the_pseudonym_key_rewrites_stored_pseudonyms(
    database_url: str, tmp_path: Path, usat: Survey, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "baraza.keys"
    config = ["--config", str(_config(tmp_path, database_url, key_file))]

    async def answer() -> tuple[str, list[str]]:
        database = Database(database_url)
        try:
            await database.migrate()
            pseudonymizer = await keys.load_pseudonymizer(database, keys.KeySource({}, key_file))
            engine = Engine(database, {usat.id: usat}, pseudonymizer)
            for name in ("ama", "kojo"):
                await EngineUser(engine, name, channel="telegram").say("/survey usat2026")
            return keys.read_key_file(key_file)["pseudonym_key"], await _respondents(database)
        finally:
            await database.dispose()

    old_key, before = asyncio.run(answer())
    assert before == [Pseudonymizer(old_key)("telegram", name) for name in ("ama", "kojo")]
    assert main([*config, "keys", "check"]) == 0
    assert f"pseudonym key: the key file {key_file}" in capsys.readouterr().out

    assert main([*config, "keys", "rotate", "pseudonym"]) == 0
    assert "2 response(s) now carry pseudonyms under the new key" in capsys.readouterr().out
    stored = keys.read_key_file(key_file)
    assert stored["pseudonym_key_replaced"] == old_key != stored["pseudonym_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    async def after() -> tuple[list[str], list[audit.AuditEvent]]:
        database = Database(database_url)
        try:
            # The new key is the database's now; the old one is refused.
            await keys.load_pseudonymizer(database, keys.KeySource({}, key_file))
            with pytest.raises(keys.KeyFileError):
                await keys.load_pseudonymizer(database, keys.KeySource({keys.PSEUDONYM_KEY: old_key}, None))
            async with database.reading() as connection:
                trail = await audit.events(connection)
            return await _respondents(database), trail
        finally:
            await database.dispose()

    respondents, trail = asyncio.run(after())
    new = Pseudonymizer(stored["pseudonym_key"])
    assert respondents == [new("telegram", name) for name in ("ama", "kojo")]
    assert (trail[0].action, trail[0].target, trail[0].details) == (
        audit.KEY_ROTATED,
        "key:pseudonym_key",
        {"responses_rewritten": "2"},
    )


def test_rotating_the_cookie_key_and_keys_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "baraza.keys"
    config = ["--config", str(_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", key_file))]
    assert main([*config, "keys", "rotate", "cookie"]) == 0  # made at first, then replaced
    stored = keys.read_key_file(key_file)
    assert len(stored["cookie_key"]) == 64 and stored["cookie_key_replaced"] != stored["cookie_key"]
    assert "every dashboard session ends" in capsys.readouterr().out

    monkeypatch.setenv("BARAZA_COOKIE_KEY", "e" * 64)
    assert main([*config, "keys", "rotate", "cookie"]) == 1
    assert "--new-key-stdin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("f" * 64 + "\n"))
    assert main([*config, "keys", "rotate", "cookie", "--new-key-stdin"]) == 0
    assert "now set BARAZA_COOKIE_KEY to the new key" in capsys.readouterr().out
    assert keys.read_key_file(key_file)["cookie_key"] == stored["cookie_key"], "the file is not the key's home"

    key_file.chmod(0o640)
    assert main([*config, "keys", "check"]) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_workers_starting_together_end_up_with_one_key(database_url: str, tmp_path: Path) -> None:
    """Four workers (threads, each with its own event loop and connections) start on an empty key file."""
    key_file = tmp_path / "baraza.keys"
    source = keys.KeySource({}, key_file)

    async def migrate() -> None:
        # Migrated once first: the race under test is the key file's, not alembic's (several
        # workers on one database are PostgreSQL's case; SQLite's DDL would wait on its lock).
        database = Database(database_url)
        try:
            await database.migrate()
        finally:
            await database.dispose()

    asyncio.run(migrate())

    def start() -> tuple[str, str]:
        async def run() -> tuple[str, str]:
            database = Database(database_url)
            try:
                pseudonym = await keys.installation_key(database, source, keys.PSEUDONYM_KEY)
                return pseudonym, await keys.installation_key(database, source, keys.COOKIE_KEY)
            finally:
                await database.dispose()

        return asyncio.run(run())

    async def together() -> list[tuple[str, str]]:
        return list(await asyncio.gather(*(asyncio.to_thread(start) for _ in range(4))))

    results = asyncio.run(together())
    assert len(set(results)) == 1
    stored = keys.read_key_file(key_file)
    assert results[0] == (stored["pseudonym_key"], stored["cookie_key"])


async def test_a_dashboard_session_survives_a_restart_with_the_key_file(database: Database, tmp_path: Path) -> None:
    """Two dashboards (another worker, or the same after a restart) share the key file's cookie key."""
    async with database.transaction() as connection:
        await StaffRepository(connection).add("amina", PASSWORD, "editor", NOW)
    source = keys.KeySource({}, tmp_path / "baraza.keys")
    first, second = web.Application(), web.Application()
    for app in (first, second):
        add_admin_routes(app, database, surveys={}, community=Community(), keys=source)
    async with TestClient(TestServer(first)) as one, TestClient(TestServer(second)) as two:
        assert (await sign_in(one, "amina")).status == 303
        cookie = one.session.cookie_jar.filter_cookies(one.make_url("/admin/"))[SESSION_COOKIE].value
        page = await two.get("/admin/requests", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
        assert page.status == 200
    async with TestClient(TestServer(_other_key_app(database))) as three:
        page = await three.get("/admin/requests", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
        assert page.status == 303, "a cookie signed with another key is refused"


def _other_key_app(database: Database) -> web.Application:
    app = web.Application()
    add_admin_routes(app, database, surveys={}, community=Community(), keys=None)
    return app


def test_first_uses_at_once_in_one_process_do_not_wait_on_each_other(tmp_path: Path) -> None:
    """Two first dashboard requests at once both need the cookie key: the lock file is waited for
    off the event loop, so the second waits for the first instead of stopping the loop."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    source = keys.KeySource({}, tmp_path / "baraza.keys")
    results: list[set[str]] = []

    async def together() -> None:
        database = Database(url)
        try:
            await database.migrate()
            found = await asyncio.gather(*(keys.installation_key(database, source, keys.COOKIE_KEY) for _ in range(5)))
            results.append(set(found))
        finally:
            await database.dispose()

    worker = threading.Thread(target=lambda: asyncio.run(together()), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the loop stopped on the lock file"
    assert results == [{keys.read_key_file(tmp_path / "baraza.keys")["cookie_key"]}]
