"""The one text splitter every channel uses (bot/channels/text.py), at each channel's own limits."""

from __future__ import annotations

import pytest

from bot.channels.telegram import rendering as telegram
from bot.channels.text import EMPTY_TEXT, shortened, split_text
from bot.channels.whatsapp import rendering as whatsapp
from handlers.messages import Button, Outbound


@pytest.mark.parametrize(
    "limit",
    [telegram.MAX_TEXT, telegram.MAX_CAPTION, whatsapp.MAX_TEXT, whatsapp.MAX_BODY],
    ids=["telegram text", "telegram caption", "whatsapp text", "whatsapp interactive body"],
)
def test_every_piece_fits_the_channel_limit_and_nothing_but_breaks_is_lost(limit: int) -> None:
    lines = [f"line {number} " + "x" * (number % 97) for number in range(400)]
    text = "\n".join(lines) + "\n" + "y" * (limit * 2 + 17)  # ends in a line longer than two pieces
    pieces = split_text(text, limit)
    assert len(pieces) > 2
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_a_piece_ends_at_a_line_break_in_its_second_half() -> None:
    first = "a" * 3000
    assert split_text(first + "\n" + "b" * 2000, telegram.MAX_TEXT) == [first, "b" * 2000]


def test_a_break_in_the_first_half_is_passed_over_for_a_cut_at_the_limit() -> None:
    text = "a" * 100 + "\n" + "b" * 5000
    pieces = split_text(text, 4096)
    assert pieces == [text[:4096], text[4096:]]


def test_a_text_within_the_limit_is_one_piece_and_an_empty_one_is_an_ellipsis() -> None:
    assert split_text("x" * 4096, 4096) == ["x" * 4096]
    assert split_text("", 1024) == [EMPTY_TEXT]


def test_shortened_keeps_a_text_that_fits_and_ends_a_longer_one_in_an_ellipsis() -> None:
    assert shortened("abc", 3) == "abc"
    assert shortened("abcd", 3) == "ab…"


def test_telegram_and_whatsapp_cut_a_long_reply_the_same_way() -> None:
    text = "\n".join("z" * 100 for _ in range(100))  # 10,099 characters
    on_telegram = [part for part, _markup in telegram.text_messages(Outbound(text=text))]
    on_whatsapp = [part["text"]["body"] for part in whatsapp.render(Outbound(text=text))]  # type: ignore[index]
    assert on_telegram == on_whatsapp == split_text(text, 4096)
    assert len(on_telegram) == 3


def test_telegram_puts_the_keyboard_on_the_last_piece_only() -> None:
    reply = Outbound(text="q" * 5000, buttons=((Button("Yes", "y"),),))
    markups = [markup for _part, markup in telegram.text_messages(reply)]
    assert markups[0] is None
    assert markups[-1] is not None and markups[-1].inline_keyboard[0][0].callback_data == "y"
