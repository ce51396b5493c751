"""The SMS channel's pure parts: rendering, carrier keywords, Twilio's signature, the gateways'
forms, the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.sms.adapter import keyword
from bot.channels.sms.gateways import AfricasTalkingGateway, TwilioGateway, twilio_signature
from bot.channels.sms.rendering import notice_segments, render, without_echoes
from bot.config import ConfigError, SmsSettings, load_settings
from common.sms_segments import segments_of
from handlers import payloads
from handlers.messages import Attachment, Button, Outbound
from handlers.notices import Notice
from storage.broadcasts import Audience
from testkit.fakes.sms import twilio_signature_as_twilio_does

SETTINGS = SmsSettings(provider="twilio", account="AC1", secret="token", sender="+15005550006", base_url="http://x")


def test_choices_are_numbered_lines_and_the_menu_maps_each_number_to_its_payload() -> None:
    buttons = tuple((Button(label, payloads.prompt_press(7, payloads.CHOOSE, i)),) for i, label in enumerate("ABC"))
    skip = ((Button("Skip ⏭", payloads.prompt_press(7, payloads.SKIP)),),)
    message = render(Outbound(text="2/12 · Which one?", buttons=buttons + skip), 3)
    assert message is not None
    assert message.texts == ("2/12 - Which one?\n1. A\n2. B\n3. C\n[Skip]",)
    assert dict(message.menu) == {"1": "q:7:c:0", "2": "q:7:c:1", "3": "q:7:c:2", "skip": "q:7:k"}
    assert message.segments == 1


def test_a_select_multiple_lists_its_options_without_ticks_or_done_and_numbers_go_as_text() -> None:
    buttons = (
        (Button("✅ Prices", payloads.prompt_press(3, payloads.TOGGLE, 0)),),
        (Button("◻️ Labour", payloads.prompt_press(3, payloads.TOGGLE, 1)),),
        (Button("Done", "q:3:d:1"),),
    )
    message = render(Outbound(text="Topics?", buttons=buttons), 3)
    assert message is not None
    assert message.texts == (
        "Topics?\n1. Prices\n2. Labour\nReply with the numbers of all that apply, at once: e.g. 1 3",
    )
    assert message.menu == ()  # "1 2" reaches the survey as typed text


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("fr", "Répondez avec les numéros de tout ce qui s'applique, en une fois : par ex. 1 3"),
        ("pt", "Responda de uma vez com os números de tudo o que se aplica: ex. 1 3"),
        ("ar", "أرسل أرقام كل ما ينطبق دفعة واحدة: مثلًا 1 3"),
        ("sw", "Reply with the numbers of all that apply, at once: e.g. 1 3"),  # no catalogue: English
    ],
)
def test_a_select_multiple_says_how_to_answer_by_sms_in_the_persons_language(language: str, says: str) -> None:
    """A survey's hint "Tick all that apply, then press Done." speaks of buttons: the SMS says how to answer."""
    buttons = tuple((Button(f"◻️ {n}", payloads.prompt_press(3, payloads.TOGGLE, n)),) for n in range(3))
    text = "3/12 - Topics?\nTick all that apply, then press Done."
    message = render(Outbound(text=text, buttons=buttons, language=language), 3)
    assert message is not None and message.texts[-1].endswith(f"3. 2\n{says}")
    single = render(Outbound(text="Which?", buttons=((Button("A", payloads.prompt_press(3, payloads.CHOOSE, 0)),),),
                             language=language), 3)  # fmt: skip
    assert single is not None and says not in single.texts[0], "only where several are ticked"


def test_links_become_lines_and_a_chart_is_left_out() -> None:
    chart = Attachment("image", b"png", "image/png", "chart.png")
    message = render(Outbound(text="CPI 2.1%", buttons=((Button("Open", "", url="https://x.org/cpi"),),),
                              attachment=chart), 1)  # fmt: skip
    assert message is not None and message.texts == ("CPI 2.1%\nOpen: https://x.org/cpi",)
    assert render(Outbound(text="", attachment=chart), 1) is None


def test_a_long_text_is_split_within_the_maximum_segments() -> None:
    message = render(Outbound(text="\n".join(f"Line {n} of a long answer about prices" for n in range(40))), 2)
    assert message is not None and len(message.texts) > 1
    assert all(segments_of(text) <= 2 for text in message.texts)


def test_the_echo_of_an_answered_question_is_left_out_unless_it_is_the_last_reply() -> None:
    echo = Outbound(text="Which one?\n→ A", replaces_pressed=True)
    question = Outbound(text="3/12 · Next?")
    assert without_echoes([echo, question]) == [question]
    assert without_echoes([echo]) == [echo]  # e.g. "consent withdrawn" stands alone


@pytest.mark.parametrize(
    ("text", "command"),
    [("STOP", "/stop"), ("stop", "/stop"), (" Arrêt ", "/stop"), ("ARRET", "/stop"), ("STOPALL", "/stop"),
     ("UNSUBSCRIBE", "/stop"), ("HELP", "/help"), ("aide", "/help"), ("START", "/start"), ("stop it", None),
     ("3", None)],
)  # fmt: skip
def test_carrier_keywords_become_commands(text: str, command: str | None) -> None:
    assert keyword(text) == command


def test_the_twilio_signature_matches_twilios_documented_example() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}  # fmt: skip
    assert twilio_signature(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature_as_twilio_does(url, list(params.items()), "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_gateways_read_their_webhook_forms_and_map_statuses() -> None:
    twilio = TwilioGateway(SETTINGS)
    incoming = twilio.incoming({"MessageSid": "SM1", "From": "+254700000001", "Body": "2"})
    assert incoming is not None and (incoming.sender, incoming.text, incoming.message_id) == (
        "+254700000001",
        "2",
        "SM1",
    )
    assert twilio.report({"MessageSid": "SM1", "MessageStatus": "sent"}) is None
    delivered = twilio.report({"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert delivered is not None and delivered.status == "delivered"
    failed = twilio.report({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert failed is not None and failed.status == "failed" and failed.error == "Twilio error 30003"
    at = AfricasTalkingGateway(SmsSettings(provider="africastalking", account="sandbox", secret="k", base_url="x"))
    assert at.incoming({"from": "+254700000001", "text": "hi", "id": "a1", "date": "2026-12-07 09:00:00"}) is not None
    assert at.incoming({"text": "hi"}) is None
    report = at.report({"id": "ATXid_1", "status": "Rejected", "failureReason": "InvalidPhoneNumber"})
    assert report is not None and report.status == "failed" and "InvalidPhoneNumber" in (report.error or "")
    success = at.report({"id": "ATXid_1", "status": "Success"})
    assert success is not None and success.status == "delivered"
    assert at.report({"id": "ATXid_1", "status": "Buffered"}) is None


def test_a_notice_costs_segments_by_language() -> None:
    notice = Notice(
        title="CPI",
        texts={"en": "Prices rose 2.1% in November.", "fr": "L'enquête est publiée.", "ar": "ارتفعت الأسعار " * 6},
        default_language="en",
        audience=Audience(),
    )
    assert notice_segments(notice, 3) == {"en": 1, "fr": 1, "ar": 2}


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_credentials_come_only_from_the_environment(tmp_path: Path) -> None:
    config = _config(tmp_path, "sms: {provider: twilio, sender: '+15005550006', messages_per_second: 1}\n")
    env = {"BARAZA_SMS_TWILIO_ACCOUNT_SID": "AC1", "BARAZA_SMS_TWILIO_AUTH_TOKEN": "secret-token"}
    sms = load_settings(config, environ=env).sms
    assert sms.enabled and sms.account == "AC1" and sms.base_url == "https://api.twilio.com"
    assert "secret-token" not in repr(sms)
    with pytest.raises(ConfigError, match="BARAZA_SMS_TWILIO_AUTH_TOKEN"):
        load_settings(config, environ={"BARAZA_SMS_TWILIO_ACCOUNT_SID": "AC1"})
    with pytest.raises(ConfigError, match="sms"):
        load_settings(_config(tmp_path, "sms: {provider: twilio, auth_token: x}\n"), environ=env)
    assert not load_settings(_config(tmp_path, "sms: {}\n"), environ={}).sms.enabled


def test_africas_talking_needs_a_long_webhook_secret_and_reads_its_allow_list(tmp_path: Path) -> None:
    config = _config(tmp_path, "sms: {provider: africastalking, allowed_ips: [196.201.214.0/24]}\n")
    env = {"BARAZA_SMS_AT_USERNAME": "sandbox", "BARAZA_SMS_AT_API_KEY": "key"}
    with pytest.raises(ConfigError, match="BARAZA_SMS_WEBHOOK_SECRET"):
        load_settings(config, environ=env)
    sms = load_settings(config, environ={**env, "BARAZA_SMS_WEBHOOK_SECRET": "x" * 20}).sms
    assert [str(network) for network in sms.allowed_ips] == ["196.201.214.0/24"]
    with pytest.raises(ConfigError, match="provider"):
        load_settings(_config(tmp_path, "sms: {provider: nexmo}\n"), environ=env)


def test_a_gateway_refusal_that_quotes_the_phone_number_keeps_it_out_of_the_error_logged() -> None:
    # Twilio's 21211 names the number ("The 'To' number +254712345678 is not a valid phone number."),
    # and the error's text is logged by the channel and the durable sender.
    twilio = TwilioGateway(SETTINGS)
    body = {"code": 21211, "message": "The 'To' number +254 712-345678 is not a valid phone number."}
    error = twilio._refusal(400, body)
    assert error is not None and "21211" in str(error) and "not a valid phone number" in str(error)
    assert "712" not in str(error) and "345678" not in str(error)
    at = AfricasTalkingGateway(SmsSettings(provider="africastalking", account="sandbox", secret="k", base_url="x"))
    refused = at._refusal(400, {"SMSMessageData": {"Message": "InvalidPhoneNumber: 0712345678", "Recipients": []}})
    assert refused is not None and "0712345678" not in str(refused) and "InvalidPhoneNumber" in str(refused)
