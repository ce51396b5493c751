"""A fake Telegram Bot API server for driving the real python-telegram-bot ``Application``.

Polling (the manual PTB way)::

    async with FakeTelegramServer() as server:
        app = (
            Application.builder()
            .token("123:ABC")                      # any token; server.bot_id == 123
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )
        app.add_handler(...)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            alice = server.user(1001, first_name="Alice", language_code="sw")
            replies = await alice.send_text_and_wait("/start")   # bot messages sent/edited in reply
            assert replies[-1].buttons == [[("Yes", "q1:yes"), ("No", "q1:no")]]
            await alice.press_and_wait("Yes")                     # label or callback_data
            assert alice.last_message.text == "Thanks!"
            await app.updater.stop()
            await app.stop()

Webhook: have the bot call ``setWebhook(url, secret_token=...)`` with a local http:// URL; new
updates are then POSTed there (non-2xx answers are retried after ``webhook_retry_delay``) and
``getUpdates`` answers 409 Conflict.

Faults: ``server.fail_next("sendMessage", error_code=429, retry_after=2)``,
``server.fail_next("sendMessage", error_code=502)``, ``server.drop_next("sendMessage",
after_processing=True)``, ``server.delay_next("getUpdates", 3)``.

Inspection: ``server.calls`` / ``calls_to(method)`` / ``last_call(method)`` (decoded params, files,
HTTP status, response), ``user.messages`` (the chat as the user sees it, edits applied in place),
``user.callback_answers``, ``server.webhook_deliveries``, ``server.delivery_count(update_id)``.

The implementation lives in the small package :mod:`tests.fakes.telegram`: ``server.py`` (HTTP,
lifecycle, faults, public API), ``updates.py`` (getUpdates long polling, webhook delivery),
``chats.py`` (sendMessage & co.), ``user.py`` (simulated users), ``protocol.py`` (request decoding,
Telegram-like validation), ``model.py`` (recorded data objects).
"""

from tests.fakes.telegram import (
    ApiError,
    Button,
    CallbackAnswer,
    ChatMessage,
    FakeTelegramServer,
    FakeUser,
    JSONDict,
    RecordedCall,
    UploadedFile,
    WebhookDelivery,
)

__all__ = [
    "ApiError",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "FakeTelegramServer",
    "FakeUser",
    "JSONDict",
    "RecordedCall",
    "UploadedFile",
    "WebhookDelivery",
]
