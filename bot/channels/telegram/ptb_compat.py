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
"""

from __future__ import annotations

from typing import TypeVar

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.ext._utils.types import RLARGS

__all__ = ["RLARGS", "ODVInput", "given_or"]

_Value = TypeVar("_Value")


def given_or(value: ODVInput[_Value], default: _Value | None) -> _Value | None:
    """``value`` as the caller gave it (``None`` included), or ``default`` when left at PTB's ``DEFAULT_NONE``."""
    return default if isinstance(value, DefaultValue) else value
