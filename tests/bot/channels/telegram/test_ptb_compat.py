"""The private python-telegram-bot names Baraza relies on (bot/channels/telegram/ptb_compat.py).

If an upgrade of python-telegram-bot moves or changes one of them, this file fails by name,
rather than the transport or the rate limiter failing somewhere at run time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib
from typing import get_args

import pytest
from packaging.requirements import Requirement
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest

from bot.channels.telegram import ptb_compat
from testkit.fakes.telegram import FakeTelegramServer
from testkit.paths import ROOT
from testkit.telegram_harness import TOKEN


def test_the_private_modules_still_hold_the_names() -> None:
    for module, name in [
        ("telegram._utils.defaultvalue", "DefaultValue"),
        ("telegram._utils.types", "ODVInput"),
        ("telegram.ext._utils.types", "RLARGS"),
    ]:
        assert hasattr(importlib.import_module(module), name), f"python-telegram-bot no longer has {module}.{name}"


def test_the_request_timeouts_are_still_typed_odvinput() -> None:
    # AiohttpRequest.do_request overrides BaseRequest.do_request with these types.
    hints = BaseRequest.do_request.__annotations__
    for timeout in ("read_timeout", "write_timeout", "connect_timeout", "pool_timeout"):
        assert hints[timeout] == ptb_compat.ODVInput[float], timeout  # type: ignore[misc]  # a runtime alias


def test_the_rate_limiter_is_still_generic_in_rlargs() -> None:
    assert BaseRateLimiter.__parameters__ == (ptb_compat.RLARGS,)  # type: ignore[attr-defined]
    assert ptb_compat.RLARGS in get_args(BaseRateLimiter.process_request.__annotations__["rate_limit_args"])


def test_a_timeout_not_given_takes_the_default_and_a_given_one_is_kept() -> None:
    assert ptb_compat.given_or(BaseRequest.DEFAULT_NONE, 7.0) == 7.0
    assert ptb_compat.given_or(2.5, 7.0) == 2.5
    assert ptb_compat.given_or(None, 7.0) is None  # None means "no limit", not "not given"


def test_the_installed_version_is_within_the_tested_range_pinned_in_pyproject() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [Requirement(line) for line in dependencies if Requirement(line).name == "python-telegram-bot"]
    installed = importlib.metadata.version("python-telegram-bot")
    assert pin.specifier.contains(installed), f"python-telegram-bot {installed} is outside {pin.specifier}"
    for bound in pin.specifier:
        assert str(bound) in (ptb_compat.__doc__ or ""), f"ptb_compat's docstring names the pinned bound {bound}"


async def test_send_text_posts_what_send_message_posts_and_returns_the_json(server: FakeTelegramServer) -> None:
    # Bot._post: the private method send_text goes through (defaults, rate limiter, errors kept).
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    user = server.user(4242)
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        await bot.send_message(user.id, "one", reply_markup=markup, parse_mode="HTML")
        result = await ptb_compat.send_text(bot, user.id, "one", reply_markup=markup, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest):
            await ptb_compat.send_text(bot, user.id, "")
    first, second = server.calls_to("sendMessage")[:2]
    assert first.params == second.params
    assert isinstance(result, dict) and result["text"] == "one" and result["chat"]["id"] == user.id
