"""Fake WhatsApp Business Cloud API for tests: a Graph API server speaking real HTTP on
127.0.0.1, Meta's webhook sender (signed calls, redelivery after a non-200 answer), and
simulated WhatsApp users.

Usage::

    async with FakeGraphServer() as server:
        settings = WhatsAppSettings(..., graph_base_url=server.base_url)
        ...  # start the bot, then server.webhook_url = "http://127.0.0.1:PORT/whatsapp/webhook"
        amina = server.user("254700000001")
        replies = await amina.send_text_and_wait("/start")
        await amina.press_label("Yes")
"""

from .graph_side import UploadedMedia
from .server import FakeGraphServer, RecordedCall, WebhookCall
from .user import FakeWhatsAppUser, WaMessage

__all__ = ["FakeGraphServer", "FakeWhatsAppUser", "RecordedCall", "UploadedMedia", "WaMessage", "WebhookCall"]
