"""The bare python-telegram-bot echo bot: the transport's own ceiling on this machine.

It sends back every text and, for a button press, answers the callback query and sends the
button's data back: one Bot API send per input, like a survey step, and nothing else.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bench.baseline.serve import arguments, serve


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


async def pressed(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await query.message.chat.send_message(str(query.data))


def setup(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))


if __name__ == "__main__":
    asyncio.run(serve(arguments(__doc__ or ""), setup, concurrent=256))
