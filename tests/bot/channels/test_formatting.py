"""A formatted survey text (surveys/markup.py spans on Outbound.rich) in each channel's own terms:
Telegram HTML with everything escaped, WhatsApp's *bold* and _italic_, the web chat's spans; and
the clean text where a message is too long for formatting."""

from __future__ import annotations

from bot.channels.telegram import rendering as telegram
from bot.channels.webchat import rendering as webchat
from bot.channels.whatsapp import rendering as whatsapp
from bot.core.engine import laid_out
from handlers.messages import Button, Outbound
from handlers.texts import RLM
from surveys import markup
from surveys.markup import Span

LABEL = "1/3 · Is **&lt;Amina&gt; & co** _really_ [here](https://nso.example/a?b=1&c=2)?<br>Say *yes*"


def formatted(text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Outbound:
    rich = markup.parse(text)
    return Outbound(text=markup.plain(rich), rich=rich, buttons=buttons)


def test_the_clean_text_has_no_marker_and_no_tag() -> None:
    assert formatted(LABEL).text == ("1/3 · Is <Amina> & co really here (https://nso.example/a?b=1&c=2)?\nSay yes")


def test_telegram_gets_html_with_every_text_escaped() -> None:
    outbound = formatted(LABEL)
    [(text, _markup)] = telegram.text_messages(outbound)
    assert telegram.parse_mode(outbound) == "HTML"
    assert text == (
        "1/3 · Is <b>&lt;Amina&gt; &amp; co</b> <i>really</i> "
        '<a href="https://nso.example/a?b=1&amp;c=2">here</a>?\nSay <i>yes</i>'
    )


def test_telegram_sends_a_plain_message_as_before_without_a_parse_mode() -> None:
    outbound = Outbound(text="Tom & <Jerry> *not bold*")
    assert telegram.text_messages(outbound) == [("Tom & <Jerry> *not bold*", None)]
    assert telegram.parse_mode(outbound) is None


def test_telegram_falls_back_to_the_clean_text_when_the_message_must_be_split() -> None:
    outbound = formatted("**long** " + "word " * 1000)
    messages = telegram.text_messages(outbound)
    assert len(messages) == 2 and telegram.parse_mode(outbound) is None
    assert "".join(text for text, _ in messages).startswith("long word") and "<b>" not in messages[0][0]


def test_whatsapp_uses_its_own_markers_next_to_the_words() -> None:
    [message] = whatsapp.render(formatted("<b>Bold words </b>and _a\nsecond line_ [site](https://nso.example)"))
    assert message == whatsapp.text_message("*Bold words* and _a_\n_second line_ site (https://nso.example)")


def test_whatsapp_buttons_go_under_a_formatted_body() -> None:
    button = Button("Yes", "q:1:c:0")
    [message] = whatsapp.render(formatted("Is **Amina** here?", ((button,),)))
    assert isinstance(message, dict)
    assert message["interactive"]["body"]["text"] == "Is *Amina* here?"


def test_whatsapp_plain_messages_are_unchanged() -> None:
    assert whatsapp.render(Outbound(text="a *b* c")) == [whatsapp.text_message("a *b* c")]


def test_webchat_sends_the_spans_beside_the_clean_text() -> None:
    reply = webchat.serialize_outbound(formatted('**B** <a href="https://x.example">x</a> <i><script>'))
    assert reply["text"] == "B x (https://x.example)"
    assert reply["rich"] == [
        {"text": "B", "bold": True, "italic": False, "link": None},
        {"text": " ", "bold": False, "italic": False, "link": None},
        {"text": "x", "bold": False, "italic": False, "link": "https://x.example"},
    ]


def test_webchat_never_sends_an_unsafe_link_and_plain_replies_have_no_spans() -> None:
    outbound = Outbound(text="x", rich=(Span("x", link="javascript:alert(1)"),))
    assert webchat.serialize_outbound(outbound)["rich"] == [{"text": "x", "bold": False, "italic": False, "link": None}]
    assert "rich" not in webchat.serialize_outbound(Outbound(text="plain"))


def test_right_to_left_lines_of_a_formatted_reply_are_marked_in_its_spans_too() -> None:
    rich = (Span("1/3 · "), Span("ما اسمك", bold=True), Span("؟\nEnglish line\n"), Span("عربي", italic=True))
    (marked,) = laid_out([Outbound(text=markup.plain(rich), rich=rich)])
    assert marked.text == f"{RLM}1/3 · ما اسمك؟\nEnglish line\n{RLM}عربي"
    assert markup.plain(marked.rich) == marked.text
    [(html, _)] = telegram.text_messages(marked)
    assert html == f"{RLM}1/3 · <b>ما اسمك</b>؟\nEnglish line\n{RLM}<i>عربي</i>"
    english = formatted("**Only** English")
    assert laid_out([english]) == [english]


def test_telegram_links_only_web_addresses_and_writes_others_after_their_text() -> None:
    outbound = formatted('Call <a href="tel:+254700000000">us</a> or [write](mailto:a@nso.example)')
    [(text, _)] = telegram.text_messages(outbound)
    assert text == "Call us (tel:+254700000000) or write (mailto:a@nso.example)"
