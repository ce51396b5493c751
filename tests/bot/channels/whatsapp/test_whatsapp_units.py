"""The WhatsApp adapter's pure parts: rendering within WhatsApp's limits, reading webhook bodies,
signatures, the ``whatsapp:`` configuration and the notices' ``whatsapp_template``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.channels.whatsapp.adapter import parse_webhook, signature_of, signature_ok
from bot.channels.whatsapp.rendering import MediaPart, render, template_message
from bot.config import ConfigError, load_settings
from handlers.messages import Attachment, Button, Outbound
from handlers.notices import NoticeFileError, load_notice_text


def choices(*labels: str) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(label, f"p:{n}"),) for n, label in enumerate(labels))


def interactive(part: Any) -> dict[str, Any]:
    assert isinstance(part, dict) and part["type"] == "interactive"
    return dict(part["interactive"])


def test_three_short_choices_are_reply_buttons() -> None:
    (part,) = render(Outbound("Pick one", buttons=choices("Yes", "No", "Maybe later")))
    message = interactive(part)
    assert message["type"] == "button" and message["body"] == {"text": "Pick one"}
    assert [b["reply"] for b in message["action"]["buttons"]] == [
        {"id": "p:0", "title": "Yes"},
        {"id": "p:1", "title": "No"},
        {"id": "p:2", "title": "Maybe later"},
    ]


def test_a_label_over_20_characters_or_a_fourth_choice_makes_a_list() -> None:
    (wide,) = render(Outbound("Q", buttons=choices("A label of 22 letters.", "B")))
    assert interactive(wide)["type"] == "list"
    (four,) = render(Outbound("Q", buttons=choices("A", "B", "C", "D")))
    message = interactive(four)
    assert message["type"] == "list" and message["action"]["button"] == "☰"
    assert [row["title"] for row in message["action"]["sections"][0]["rows"]] == ["A", "B", "C", "D"]


def test_long_choice_lists_are_paginated_by_ten_rows() -> None:
    labels = [f"Region {n}" for n in range(1, 26)]
    pages = [interactive(part) for part in render(Outbound("Where?", buttons=choices(*labels)))]
    rows = [[row["id"] for row in page["action"]["sections"][0]["rows"]] for page in pages]
    assert [len(page) for page in rows] == [10, 10, 5]
    assert [row for page in rows for row in page] == [f"p:{n}" for n in range(25)]
    assert [page["action"]["button"] for page in pages] == ["☰ 1–10", "☰ 11–20", "☰ 21–25"]
    assert pages[0]["body"]["text"] == "Where?"


def test_labels_longer_than_a_list_row_become_numbered_text_choices() -> None:
    long = "Parliamentarian or parliamentary staff"  # 38 characters
    (part,) = render(Outbound("Who are you?", buttons=choices("Media", long, "Citizen", "Student")))
    message = interactive(part)
    assert message["body"]["text"] == "Who are you?\n\n1. Media\n2. " + long + "\n3. Citizen\n4. Student"
    rows = message["action"]["sections"][0]["rows"]
    assert [(row["title"], row["id"]) for row in rows] == [("1", "p:0"), ("2", "p:1"), ("3", "p:2"), ("4", "p:3")]
    assert rows[1]["description"] == long
    (few,) = render(Outbound("Who?", buttons=choices(long, "Media")))
    assert [b["reply"]["title"] for b in interactive(few)["action"]["buttons"]] == ["1", "2"]


def test_a_row_description_is_cut_to_72_characters() -> None:
    label = "x" * 100
    (part,) = render(Outbound("Q", buttons=choices(label, "a", "b", "c")))
    description = interactive(part)["action"]["sections"][0]["rows"][0]["description"]
    assert len(description) == 72 and description.endswith("…")
    assert label in interactive(part)["body"]["text"], "the full label is in the text"


def test_long_texts_are_split_within_the_limits_and_nothing_is_lost() -> None:
    text = "\n".join(f"line {n} " + "y" * 60 for n in range(40))  # about 2,800 characters
    *before, last = render(Outbound(text, buttons=choices("OK")))
    assert all(part["type"] == "text" for part in before)  # type: ignore[index]
    body = interactive(last)["body"]["text"]
    assert len(body) <= 1024
    assert "\n".join([*(p["text"]["body"] for p in before), body]) == text  # type: ignore[index]
    plain = render(Outbound("z" * 9000))
    assert [len(p["text"]["body"]) for p in plain] == [4096, 4096, 808]  # type: ignore[index]


def test_attachments_go_first_and_carry_the_text_as_caption_when_they_can() -> None:
    chart = Attachment("image", "chart.png", b"png", "image/png")
    (alone,) = render(Outbound("CPI", attachment=chart))
    assert isinstance(alone, MediaPart) and alone.caption == "CPI"
    assert alone.body("m1") == {"type": "image", "image": {"id": "m1", "caption": "CPI"}}
    media, question = render(Outbound("Useful?", attachment=chart, buttons=choices("Yes", "No")))
    assert isinstance(media, MediaPart) and media.caption is None
    assert interactive(question)["body"]["text"] == "Useful?"
    table = Attachment("document", "cpi.csv", b"a,b", "text/csv")
    (document,) = render(Outbound("", attachment=table))
    assert isinstance(document, MediaPart)
    assert document.body("m2") == {"type": "document", "document": {"id": "m2", "filename": "cpi.csv"}}


def test_link_buttons_become_lines_of_the_text() -> None:
    buttons = ((Button("Open the release", "", url="https://example.org/cpi"),), (Button("Survey", "s:usat"),))
    (part,) = render(Outbound("CPI is out", buttons=buttons))
    message = interactive(part)
    assert message["body"]["text"] == "CPI is out\n\nOpen the release: https://example.org/cpi"
    assert [b["reply"]["id"] for b in message["action"]["buttons"]] == ["s:usat"]


def test_template_messages_name_the_template_its_language_and_parameters() -> None:
    assert template_message("cpi_release", "en", ("November",)) == {
        "type": "template",
        "template": {
            "name": "cpi_release",
            "language": {"code": "en"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "November"}]}],
        },
    }


def webhook(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def test_webhook_bodies_give_texts_button_and_list_replies_and_statuses() -> None:
    base = {"from": "254700000001", "timestamp": "1764000000"}
    content = parse_webhook(
        webhook(
            {
                "messages": [
                    {**base, "id": "w1", "type": "text", "text": {"body": "hello"}},
                    {
                        **base,
                        "id": "w2",
                        "type": "interactive",
                        "interactive": {"type": "button_reply", "button_reply": {"id": "q:1:c:0", "title": "Yes"}},
                    },
                    {
                        **base,
                        "id": "w3",
                        "type": "interactive",
                        "interactive": {"type": "list_reply", "list_reply": {"id": "q:1:c:4", "title": "5"}},
                    },
                    {**base, "id": "w4", "type": "reaction", "reaction": {"message_id": "x", "emoji": "👍"}},
                    {**base, "id": "w5", "type": "image", "image": {"id": "media"}},
                ],
                "statuses": [
                    {"id": "s1", "status": "read", "timestamp": "1764000001", "recipient_id": "254700000001"},
                    {
                        "id": "s2",
                        "status": "failed",
                        "timestamp": "1764000002",
                        "errors": [{"code": 131047, "title": "Re-engagement message"}],
                    },
                ],
            }
        )
    )
    got = [(m.update_key, m.text, m.payload) for m in content.messages]
    assert got == [("w1", "hello", None), ("w2", None, "q:1:c:0"), ("w3", None, "q:1:c:4"), ("w5", None, None)]
    # A picture is a file for the core (fetched by the channel before it is handled).
    assert content.messages[3].upload is not None and content.media == {"w5": "media"}
    assert {(m.channel, m.user_key, m.chat_key) for m in content.messages} == {
        ("whatsapp", "254700000001", "254700000001")
    }
    assert content.messages[0].received_at is not None and content.messages[0].received_at.year == 2025
    assert [(r.message_key, r.status) for r in content.receipts] == [("s1", "read"), ("s2", "failed")]
    assert content.receipts[1].error == "WhatsApp error 131047: Re-engagement message"
    assert parse_webhook({"entry": "nonsense"}).messages == []
    assert (
        parse_webhook(webhook({"messages": [{**base, "id": "w6", "type": "text", "text": "flat"}]})).messages[0].text
        == ""
    )


def test_signatures_are_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"entry": []}'
    good = signature_of(body, "secret")
    assert signature_ok(body, good, "secret")
    assert not signature_ok(body + b" ", good, "secret")
    assert not signature_ok(body, good, "other secret")
    assert not signature_ok(body, None, "secret") and not signature_ok(body, good, None)


def test_the_whatsapp_section_and_its_environment_overrides(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "whatsapp:\n  phone_number_id: '123'\n  access_token: file-token\n  app_secret: s\n  verify_token: v\n"
    )
    settings = load_settings(
        config,
        environ={"BARAZA_WHATSAPP_ACCESS_TOKEN": "env-token", "BARAZA_WHATSAPP_GRAPH_BASE_URL": "http://127.0.0.1:9/"},
    )
    whatsapp = settings.whatsapp
    assert whatsapp.enabled and whatsapp.access_token == "env-token" and whatsapp.phone_number_id == "123"
    assert whatsapp.graph_base_url == "http://127.0.0.1:9" and whatsapp.api_version.startswith("v")
    assert "env-token" not in repr(settings) and "'s'" not in repr(whatsapp), "secrets never show"
    assert not load_settings(None, environ={}).whatsapp.enabled
    config.write_text("whatsapp:\n  phone_number_id: '123'\n  access_token: t\n")
    with pytest.raises(ConfigError, match=r"app_secret and whatsapp\.verify_token are required"):
        load_settings(config, environ={})


NOTICE = """title: CPI
text: Prices rose.
whatsapp_template:
  name: cpi_release
  language: en_US
  parameters: [November 2026, "3.1"]
"""


def test_notices_name_an_optional_whatsapp_template(tmp_path: Path) -> None:
    notice = load_notice_text(NOTICE, "n.yaml", base_dir=tmp_path)
    assert notice.whatsapp_template is not None
    assert (notice.whatsapp_template.name, notice.whatsapp_template.language) == ("cpi_release", "en_US")
    assert notice.whatsapp_template.parameters == ("November 2026", "3.1")
    again = type(notice).from_json(notice.to_json())
    assert again.whatsapp_template == notice.whatsapp_template
    assert load_notice_text("title: CPI\ntext: Prices rose.\n", "n.yaml", base_dir=tmp_path).whatsapp_template is None


def test_a_broken_whatsapp_template_is_reported_with_its_line(tmp_path: Path) -> None:
    broken = "title: CPI\ntext: Prices rose.\nwhatsapp_template:\n  name: CPI Release!\n  colour: red\n"
    with pytest.raises(NoticeFileError) as raised:
        load_notice_text(broken, "n.yaml", base_dir=tmp_path)
    messages = [str(problem) for problem in raised.value.problems]
    assert any(m.startswith("n.yaml:4:") and "needs a name and a language" in m for m in messages)
    assert any(m.startswith("n.yaml:4:") and "'CPI Release!' is not a template name" in m for m in messages)
    assert any(m.startswith("n.yaml:5:") and "unknown key 'colour'" in m for m in messages)
