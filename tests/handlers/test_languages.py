"""The bot's languages: the gettext catalogues, /language, and right-to-left layout.

Catalogue checks are plain unit tests; the conversations run through the real engine on both
databases (the ``engine`` fixture).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping

import pytest
from babel.messages.pofile import read_po

from bot.core.engine import Engine
from handlers import router, texts
from handlers.flows import REGISTRY
from handlers.messages import Outbound
from handlers.texts import (
    FALLBACK_LANGUAGE,
    LANGUAGE_NAMES,
    LOCALE_DIR,
    MESSAGES,
    RLM,
    SUPPORTED_LANGUAGES,
    Texts,
    catalogue_path,
    is_rtl,
    rtl,
    supported_language,
)
from surveys.model import Survey
from testkit.exports import export_rows
from testkit.fakes.engine_user import EngineUser

ENGLISH = MESSAGES[FALLBACK_LANGUAGE]
TRANSLATED = [language for language in SUPPORTED_LANGUAGES if language != FALLBACK_LANGUAGE]


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def symbols(text: str) -> list[str]:
    """The emoji and other pictographs of a text, in order."""
    return [character for character in text if unicodedata.category(character) == "So"]


def rtl_lines(text: str) -> bool:
    """Every line that has words starts with a RIGHT-TO-LEFT MARK (blank lines need none)."""
    return all(line.startswith(RLM) for line in text.split("\n") if line.strip())


# --- Catalogues -------------------------------------------------------------------------------


def test_supported_languages_and_their_own_names() -> None:
    assert SUPPORTED_LANGUAGES == ("en", "fr", "pt", "ar")
    assert dict(LANGUAGE_NAMES) == {"en": "English", "fr": "Français", "pt": "Português", "ar": "العربية"}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_catalogue_parses_and_names_its_language(language: str) -> None:
    with catalogue_path(language).open("rb") as file:
        catalogue = read_po(file, domain="baraza")
    assert str(catalogue.locale) == language
    entries = [message for message in catalogue if message.id]
    assert entries and not [message.id for message in entries if message.fuzzy]
    assert len({message.id for message in entries}) == len(entries)


def test_template_has_every_key_with_the_english_text_as_comment() -> None:
    with (LOCALE_DIR / "baraza.pot").open("rb") as file:
        template = read_po(file, domain="baraza")
    entries = {message.id: message for message in template if isinstance(message.id, str) and message.id}
    assert set(entries) == set(ENGLISH)
    for key, message in entries.items():
        assert message.string == ""
        first_line = ENGLISH[key].split("\n")[0]
        assert " ".join(message.auto_comments).startswith(first_line[:60]), key


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_key_is_translated_with_the_same_placeholders_and_emoji(language: str) -> None:
    catalogue = MESSAGES[language]
    assert set(catalogue) == set(ENGLISH)
    for key, english in ENGLISH.items():
        assert placeholders(catalogue[key]) == placeholders(english), key
        assert symbols(catalogue[key]) == symbols(english), key
        assert catalogue[key] != english, f"{language}:{key} is not translated"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_help_lists_every_command_in_latin_script(language: str) -> None:
    commands = set(re.findall(r"^/(\w+)", Texts(language)("help"), re.M))
    assert commands == REGISTRY.command_names() == set(router.COMMAND_DESCRIPTIONS)
    assert "language" in commands


def test_texts_in_each_language() -> None:
    assert Texts("pt")("greeting").startswith("Olá!")
    assert Texts("ar")("greeting").startswith("مرحبًا")
    assert Texts("fr")("problem_above_maximum", max="10") == "La réponse doit être au plus 10."
    assert Texts("pt")("quiz_score", score="3", total="5") == "A sua pontuação: 3 de 5."
    assert Texts("ar")("language_set", language="العربية") == "تم اختيار اللغة: العربية."
    assert Texts("pt")("language_set", language=LANGUAGE_NAMES["pt"]) == "Idioma definido: Português."


def test_unknown_language_and_missing_key_fall_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Texts("de").language == "en"
    assert Texts("de")("greeting") == ENGLISH["greeting"]
    without_greeting: Mapping[str, Mapping[str, str]] = {
        **MESSAGES,
        "pt": {k: v for k, v in MESSAGES["pt"].items() if k != "greeting"},
    }
    monkeypatch.setattr(texts, "MESSAGES", without_greeting)
    assert Texts("pt")("greeting") == ENGLISH["greeting"]
    assert Texts("pt")("submitted") == "Enviado."
    with pytest.raises(KeyError):
        Texts("pt")("no_such_key")


@pytest.mark.parametrize(
    ("hint", "language"),
    [
        ("pt-BR", "pt"),
        ("pt_PT", "pt"),
        ("ar-EG", "ar"),
        ("AR", "ar"),
        ("fr-CA", "fr"),
        ("en", "en"),
        ("de-DE", None),
        ("", None),
        (None, None),
    ],
)
def test_platform_language_hint(hint: str | None, language: str | None) -> None:
    assert supported_language(hint) == language


def test_skip_words_in_the_users_language_and_english() -> None:
    assert (
        Texts("pt").is_skip_word(" Pular ") and Texts("pt").is_skip_word("saltar") and Texts("pt").is_skip_word("SKIP")
    )
    assert Texts("ar").is_skip_word("تخطي") and Texts("ar").is_skip_word("تخطّي") and Texts("ar").is_skip_word("skip")
    assert Texts("fr").is_skip_word("Passer") and Texts("en").is_skip_word("skip")
    assert not Texts("pt").is_skip_word("passer") and not Texts("en").is_skip_word("pular")
    assert not Texts("pt").is_skip_word("pular isto")


def test_right_to_left_languages() -> None:
    assert is_rtl("ar") and is_rtl("ar-EG") and is_rtl("fa") and is_rtl("he") and is_rtl("ur")
    assert not is_rtl("en") and not is_rtl("fr") and not is_rtl(None) and not is_rtl("")
    assert Texts("ar").is_rtl and not Texts("pt").is_rtl


def test_rtl_marks_every_right_to_left_line_and_is_idempotent() -> None:
    text = "3/12 · ما مدى رضاك؟\n✅ تم\n\n/start – عرض الاستبيانات"
    marked = rtl(text)
    assert rtl_lines(marked)
    assert marked.split("\n")[0] == RLM + "3/12 · ما مدى رضاك؟"
    # The slash of a command stays with it (a LEFT-TO-RIGHT MARK), so it is not drawn as "start/".
    assert marked.split("\n")[3] == RLM + "\u200e/start – عرض الاستبيانات"
    assert rtl(marked) == marked
    assert rtl("أرسل /help للمساعدة") == RLM + "أرسل \u200e/help للمساعدة"


def test_rtl_leaves_lines_entirely_in_a_left_to_right_script() -> None:
    # A survey without Arabic shows its English labels to an Arabic speaker: they stay LTR.
    assert rtl("3/12 · Which best describes you?\n(إجابتك: Media)") == (
        "3/12 · Which best describes you?\n" + RLM + "(إجابتك: Media)"
    )
    assert rtl("4") == "4", "a line without right-to-left letters keeps its direction"


def test_every_right_to_left_character_is_seen_by_the_quick_check_of_rtl() -> None:
    # rtl() looks at characters one by one only in text matching this pattern, so the pattern
    # must match every character of bidirectional class R or AL (this Python's Unicode data).
    missed = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if unicodedata.bidirectional(chr(code)) in ("R", "AL") and not texts._MAYBE_RIGHT_TO_LEFT.match(chr(code))
    ]
    assert missed == []
    assert rtl("Un café à Lisboa, não? Ça va.") == "Un café à Lisboa, não? Ça va."
    assert rtl("שלום\nok") == RLM + "שלום\nok", "Hebrew is right to left too"
    assert rtl("\u0663/12") == "\u0663/12", "an Arabic-Indic digit alone is no right-to-left letter"


# --- Conversations through the engine ----------------------------------------------------------


async def test_portuguese_hint_gets_portuguese_bot_messages(engine: Engine) -> None:
    user = EngineUser(engine, "pt1", language="pt-BR")
    replies = await user.say("/start")
    assert replies[0].text == Texts("pt")("greeting")
    assert replies[1].text == Texts("pt")("surveys_open")
    replies = await user.say("/help")
    assert replies[0].text.startswith("O que posso fazer:") and "/language – escolher o seu idioma" in replies[0].text
    replies = await user.say("/nada")
    assert replies[0].text == "Não conheço o comando /nada. Envie /help para ver o que posso fazer."
    replies = await user.say("olá")
    assert replies[0].text == Texts("pt")("not_understood")


async def test_arabic_hint_gets_arabic_right_to_left(engine: Engine) -> None:
    user = EngineUser(engine, "ar1", language="ar-EG")
    replies = await user.say("/start")
    assert replies[0].text == RLM + Texts("ar")("greeting")
    assert all(rtl_lines(reply.text) for reply in replies)
    replies = await user.say("/survey usat2026")
    # The survey has no Arabic, so its English question keeps its direction; the bot's own
    # Arabic (the hint under the intro, the skip button) is marked.
    assert replies[0].text.split("\n")[-1] == RLM + Texts("ar")("survey_start_hint").replace("/cancel", "\u200e/cancel")
    assert replies[-1].text.startswith("1/12 · Which best describes you?")


async def test_language_picker_switches_to_arabic(engine: Engine) -> None:
    user = EngineUser(engine, "lang1")
    replies = await user.say("/language")
    assert replies[0].text == "Choose your language:"
    buttons = {button.label: button.payload for button in replies[0].flat_buttons}
    assert buttons == {"English ✓": "l:en", "Français": "l:fr", "Português": "l:pt", RLM + "العربية": "l:ar"}

    replies = await user.press("العربية")
    assert [reply.text for reply in replies] == [RLM + "تم اختيار اللغة: العربية."]
    assert replies[0].replaces_pressed

    replies = await user.say("/help")
    assert replies[0].text.startswith(RLM + "ما يمكنني فعله:")
    assert rtl_lines(replies[0].text)
    assert RLM + "\u200e/language – اختيار لغتك" in replies[0].text.split("\n")

    # The choice is stored: it outlives the platform's hint, and the picker now ticks Arabic.
    replies = await user.say("/language")
    assert rtl_lines(replies[0].text) and replies[0].text == RLM + "اختر لغتك:"
    labels = [button.label for button in replies[0].flat_buttons]
    assert labels == ["English", "Français", "Português", RLM + "العربية ✓"]

    replies = await user.press("English")
    assert [reply.text for reply in replies] == ["Language set to English."]
    replies = await user.say("/help")
    assert replies[0].text.startswith("What I can do:") and RLM not in replies[0].text


async def test_language_argument_and_unknown_codes(engine: Engine) -> None:
    user = EngineUser(engine, "lang2")
    replies = await user.say("/language pt")
    assert [reply.text for reply in replies] == ["Idioma definido: Português."]
    replies = await user.say("/language Français")
    assert [reply.text for reply in replies] == ["Langue choisie : Français."]
    replies = await user.say("/language xx")
    assert replies[0].text == "Choisissez votre langue :" and len(replies[0].flat_buttons) == 4
    replies = await user.press_payload("l:de")
    assert replies[0].text == "Choisissez votre langue :"
    replies = await user.say("/start")
    assert replies[0].text.startswith("Bonjour")


async def test_language_change_mid_survey_asks_the_question_again(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "lang3")
    replies = await user.say("/survey usat2026")
    assert replies[-1].text.startswith("1/12 · Which best describes you?")
    replies = await user.say("/language fr")
    assert replies[0].text == "Langue choisie : Français."
    assert replies[1].text == "1/12 · Laquelle de ces catégories vous décrit le mieux ?"
    assert "Citoyen" in [button.label for button in replies[1].flat_buttons]
    replies = await user.press("Citoyen")
    assert replies[-1].text.startswith("2/12 · À quelle fréquence")
    replies = await user.say("2")
    assert replies[-1].text.startswith("3/12 · Pour quoi utilisez-vous")
    (row,) = await export_rows(engine, usat)
    assert (row["user_group"], row["frequency"]) == ("citizen", "weekly")


async def test_language_change_by_button_mid_survey(engine: Engine) -> None:
    user = EngineUser(engine, "lang4", language="fr")
    await user.say("/survey usat2026")
    await user.press("Citoyen")
    await user.say("/language")
    replies = await user.press("English")
    assert replies[0].text == "Language set to English."
    assert replies[1].text.startswith("2/12 · How often do you use our statistics?")
    replies = await user.press("Weekly")
    assert replies[-1].text.startswith("3/12 · What do you use our statistics for?")


async def test_portuguese_skip_word_skips_an_optional_question(engine: Engine, usat: Survey) -> None:
    user = EngineUser(engine, "pt2", language="pt-BR")
    replies = await user.say("/survey usat2026")
    assert replies[0].text.endswith(Texts("pt")("survey_start_hint"))
    for label in ("Citizen", "Daily", "Policy", "Concluído", "Health", "Concluído", "1", "2", "3", "4", "5"):
        await user.press(label)
    replies = await user.say("0")
    assert "· When did you last use our statistics?" in replies[-1].text  # last_use, optional
    assert "Pular ⏭" in [button.label for button in replies[-1].flat_buttons]
    replies = await user.say("pular")
    assert "· What should we improve?" in replies[-1].text  # comments, optional
    replies = await user.say("Pular")
    assert replies[-1].text.endswith("\n\n" + Texts("pt")("finished"))
    (row,) = await export_rows(engine, usat)
    assert (row["last_use"], row["comments"], row["complete"]) == ("", "", "true")


async def test_portuguese_problem_messages(engine: Engine) -> None:
    user = EngineUser(engine, "pt3", language="pt")
    await user.say("/survey usat2026")
    replies = await user.say("99")
    assert replies[0].text == "Toque em um dos botões ou escreva um número de 1 a 10."
    replies = await user.say("/back")
    assert replies[0].text == "Esta é a primeira pergunta."


def test_outbound_layout_for_right_to_left() -> None:
    from bot.core.engine import laid_out
    from handlers.messages import Button

    reply = Outbound(text="١/٣ · سؤال", buttons=((Button("تخطي ⏭", "q:1:k"), Button("Media", "q:1:c:0")),))
    (marked,) = laid_out([reply])
    assert marked.text == RLM + "١/٣ · سؤال"
    assert [button.label for button in marked.flat_buttons] == [RLM + "تخطي ⏭", "Media"]
    assert [button.payload for button in marked.flat_buttons] == ["q:1:k", "q:1:c:0"]
    french = Outbound(text="1/3 · Question", buttons=((Button("Passer ⏭", "q:1:k"),),))
    assert laid_out([french]) == [french]
