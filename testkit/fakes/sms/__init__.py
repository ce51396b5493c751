"""Fake SMS gateways for tests and benchmarks: Africa's Talking and Twilio on 127.0.0.1, speaking
their documented HTTP APIs and webhooks, and simulated feature phones.

Usage::

    async with FakeTwilio() as gateway:
        ...  # start the bot with sms.base_url = gateway.base_url, then
        gateway.webhook_base = "http://127.0.0.1:PORT/sms"
        amina = gateway.user("+254700000001")
        replies = await amina.send_text_and_wait("/start usat2026")
"""

from .respondent import SmsRespondent
from .server import FakeAfricasTalking, FakeSmsGateway, FakeTwilio, SentSms, twilio_signature_as_twilio_does
from .user import FakeSmsUser, SmsText

__all__ = ["FakeAfricasTalking", "FakeSmsGateway", "FakeSmsUser", "FakeTwilio", "SentSms", "SmsRespondent",
           "SmsText", "twilio_signature_as_twilio_does"]  # fmt: skip
