"""Telegram's command menu in each language the bot speaks (``setMyCommands`` with
``language_code``), with the texts of the locale catalogues (issue 17, item 7)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.app import running_bot
from handlers.router import COMMAND_DESCRIPTIONS
from handlers.texts import MESSAGES, SUPPORTED_LANGUAGES
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.telegram import FakeTelegramServer
from testkit.telegram_harness import bot_in_process, bot_settings


async def test_each_language_gets_its_own_command_menu(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server, bot_in_process(server, await copy_migrated_sqlite(tmp_path / "b.db")):
        menus = {code: server.commands(language_code=code) for code in ("", *SUPPORTED_LANGUAGES)}
    for code, menu in menus.items():
        assert [entry["command"] for entry in menu] == list(COMMAND_DESCRIPTIONS), code
        catalogue = MESSAGES[code or "en"]  # the default menu is in the default language (en)
        assert [entry["description"] for entry in menu] == [
            catalogue[f"command_{name}"] for name in COMMAND_DESCRIPTIONS
        ], code
    assert menus["fr"][0]["description"] == "Voir les enquêtes ouvertes"
    assert menus["pt"][0]["description"] == "Ver os inquéritos abertos"
    assert menus["ar"][0]["description"] == "عرض الاستبيانات المفتوحة"
    assert len({menu[0]["description"] for menu in menus.values()}) == 4, "en and the default are alike, no other"
    for menu in menus.values():
        assert all(0 < len(entry["description"]) <= 256 for entry in menu), "Telegram's limit"


async def test_the_default_menu_follows_the_office_default_language(tmp_path: Path) -> None:
    async with FakeTelegramServer() as server:
        settings = replace(bot_settings(server, await copy_migrated_sqlite(tmp_path / "b.db")), default_language="fr")
        async with running_bot(settings):
            default = server.commands()
    assert default[0]["description"] == "Voir les enquêtes ouvertes"
