"""Every private name of python-telegram-bot that Baraza uses, in one place.

PTB keeps some names it documents in signatures under ``telegram._utils`` and
``telegram.ext._utils``, which it may move in any release. Nothing else in Baraza imports a
private PTB module: when an upgrade moves one, this module (and its test,
``tests/bot/channels/telegram/test_ptb_compat.py``) is the one place that breaks.

Tested with python-telegram-bot 22.8; ``pyproject.toml`` pins ``>=22.8,<23``.

- :data:`ODVInput`: the type of a ``BaseRequest.do_request`` timeout argument (a value, ``None``,
  or PTB's ``DEFAULT_NONE`` marker meaning "not given").
- :func:`given_or`: such an argument, or the default when it was not given.
- :data:`RLARGS`: the type variable of ``BaseRateLimiter``'s ``rate_limit_args``.
- :func:`send_text`: ``sendMessage`` through ``Bot._post``, the result left as JSON. The public
  ``send_message`` builds a whole :class:`telegram.Message` from every reply Telegram sends back
  (12 % of the bot's main thread under load, measured with py-spy in ``bench.load --survey
  numeric``); replies to people only need to know the message went, broadcasts only its id.
  Baraza sends through :func:`bot.channels.telegram.transport.send_text`, which needs no private
  name on its own :class:`~bot.channels.telegram.transport.AiohttpRequest` and comes here for
  any other request.
"""

from __future__ import annotations

from typing import Any, TypeVar

from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.ext import ExtBot
from telegram.ext._utils.types import RLARGS

__all__ = ["RLARGS", "ODVInput", "get_update_data", "given_or", "send_text"]

_Value = TypeVar("_Value")


def given_or(value: ODVInput[_Value], default: _Value | None) -> _Value | None:
    """``value`` as the caller gave it (``None`` included), or ``default`` when left at PTB's ``DEFAULT_NONE``."""
    return default if isinstance(value, DefaultValue) else value


async def send_text(
    bot: Bot,
    chat_id: int | str,
    text: str,
    *,
    reply_markup: Any = None,
    parse_mode: str | None = None,
    read_timeout: float | None = None,
    api_kwargs: dict[str, Any] | None = None,
    rate_limit_args: Any = None,
) -> Any:
    """``bot.send_message(chat_id, text, reply_markup=..., parse_mode=..., read_timeout=...,
    api_kwargs=..., rate_limit_args=...)`` with the same request, errors, defaults and rate limiter
    (``ExtBot._do_post``), returning Telegram's JSON result (a dict) instead of a
    :class:`telegram.Message`."""
    data: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if reply_markup is not None:
        data["reply_markup"] = reply_markup
    if parse_mode is not None:
        data["parse_mode"] = parse_mode
    if rate_limit_args is not None and isinstance(bot, ExtBot):
        api_kwargs = ExtBot._merge_api_rl_kwargs(dict(api_kwargs or {}), rate_limit_args)
    if read_timeout is None:
        return await bot._post("sendMessage", data, api_kwargs=api_kwargs)
    return await bot._post("sendMessage", data, read_timeout=read_timeout, api_kwargs=api_kwargs)


async def get_update_data(
    bot: Bot, *, offset: int | None, poll_seconds: int, allowed_updates: list[str], limit: int | None = None
) -> list[Any]:
    """``bot.get_updates(offset=..., timeout=poll_seconds, allowed_updates=..., limit=...)`` with the same
    request (PTB sends ``getUpdates`` on its own connection, the ``get_updates_request``), errors
    and rate limiter, returning the updates as Telegram's JSON (a list of dicts) instead of
    :class:`telegram.Update` objects."""
    data: dict[str, Any] = {"timeout": poll_seconds, "allowed_updates": allowed_updates}
    if offset is not None:
        data["offset"] = offset
    if limit is not None:
        data["limit"] = limit
    result = await bot._post("getUpdates", data)
    return result if isinstance(result, list) else []
