"""USSD screens: every page within 182 characters, pages that turn both ways, nothing cut
mid-word, and what a typed input means on a page. Over the shipped survey, a few public XLSForms
(../shared/xlsforms, skipped when absent) and generated texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.ussd.rendering import MORE_KEY, SCREEN_LIMIT, Reading, Screen, pages, read_input, response, screen_of
from handlers import payloads
from handlers.messages import Button, Outbound
from handlers.texts import Texts
from surveys.loader import load_survey_text
from surveys.model import QuestionType, Survey
from surveys.xlsform import XlsformError, convert_xlsform
from testkit.paths import SHARED

EN = Texts("en")
CORPUS = SHARED / "xlsforms"
CORPUS_FORMS = (
    "getodk-sample-forms/all-question-types-v2024091201-3.xlsx",
    "getodk-sample-forms/socio-economic-survey-v20240515.xlsx",
)
CHOICE_TYPES = (QuestionType.SELECT_ONE, QuestionType.SELECT_MULTIPLE)


def question(text: str, labels: list[str], *, skip: bool = False, op: str = payloads.CHOOSE) -> Outbound:
    buttons = [(Button(label, payloads.prompt_press(1, op, i)),) for i, label in enumerate(labels)]
    if skip:
        buttons.append((Button("Skip ⏭", payloads.prompt_press(1, payloads.SKIP)),))
    return Outbound(text=text, buttons=tuple(buttons), language="en")


def laid_out(*replies: Outbound) -> tuple[Screen, list[str]]:
    screen = screen_of(list(replies), waiting=True, texts=EN)
    return screen, [page.text for page in pages(screen, EN)]


def assert_fits_and_keeps_everything(screen: Screen) -> None:
    laid = pages(screen, EN)
    assert all(len(page.text) <= SCREEN_LIMIT for page in laid), [len(p.text) for p in laid]
    assert [item for page in laid for item in page.items] == list(screen.items), "every item, once, in order"
    assert all(len(page.items) <= 8 for page in laid) or len(laid) == 1
    if len(laid) > 1:
        # The words of the body come back in order: cut between words, never inside one.
        shown = " ".join(
            line
            for page in laid
            for line in page.text.split("\n")
            if line[:1] not in ("9", "0") and ". " not in line[:3]
        )
        words = screen.body.split()
        if all(len(word) < 100 for word in words) and not any(". " in line[:3] for line in screen.body.split("\n")):
            assert shown.split() == words


def survey_screens(survey: Survey) -> list[Screen]:
    """A screen per question and language, as the survey asks it (label, hint, choices, Skip)."""
    screens = []
    for language in survey.languages or (survey.default_language,):
        for q in survey.questions:
            text = "12/40 - " + q.label.in_language(language, survey.default_language)
            if q.hint is not None:
                text += "\n" + q.hint.in_language(language, survey.default_language)
            labels = [c.label.in_language(language, survey.default_language) for c in q.choices]
            op = payloads.TOGGLE if q.type is QuestionType.SELECT_MULTIPLE else payloads.CHOOSE
            if q.type is QuestionType.SELECT_MULTIPLE:
                labels = [f"◻️ {label}" for label in labels] + ["Done"]
            reply = question(text, labels if q.type in CHOICE_TYPES else [], skip=not q.required, op=op)
            screens.append(screen_of([reply], waiting=True, texts=EN))
    return screens


def test_every_question_of_the_shipped_survey_fits(usat: Survey) -> None:
    screens = survey_screens(usat)
    for screen in screens:
        assert_fits_and_keeps_everything(screen)
    assert any(len(pages(s, EN)) > 1 for s in screens), "some need pages"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent")
@pytest.mark.parametrize("name", CORPUS_FORMS)
def test_every_question_of_public_xlsforms_fits(name: str) -> None:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    try:
        conversion = convert_xlsform(path, drop_unsupported=True)
    except XlsformError:
        pytest.skip(f"{name} does not import")
    survey = load_survey_text(conversion.yaml_text, Path(name).stem + ".yaml")
    for screen in survey_screens(survey):
        assert_fits_and_keeps_everything(screen)


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéàç'", min_size=1, max_size=14)
sentences = st.lists(words, min_size=1, max_size=40).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(body=st.lists(sentences, min_size=1, max_size=4), labels=st.lists(sentences, max_size=25))
def test_any_question_fits_its_pages(body: list[str], labels: list[str]) -> None:
    screen = screen_of([question("\n".join(body), labels)], waiting=True, texts=EN)
    assert_fits_and_keeps_everything(screen)


def test_a_long_menu_turns_forward_and_back() -> None:
    labels = [f"Choice number {n} with a fairly long label" for n in range(1, 13)]
    screen, texts = laid_out(question("1/3 - Which one?", labels))
    laid = pages(screen, EN)
    assert len(laid) >= 3 and texts[0].startswith("1/3 - Which one?\n1. Choice number 1 ")
    assert texts[0].endswith("\n9 More") and "0 Back" not in texts[0]
    assert texts[1].endswith("9 More\n0 Back") and texts[-1].endswith("\n0 Back") and "9 More" not in texts[-1]
    assert read_input(screen, laid, 0, MORE_KEY) == Reading(page=1)
    assert read_input(screen, laid, 1, "0") == Reading(page=0)
    assert read_input(screen, laid, 0, "0") == Reading(not_in_menu=True), "no Back on the first page"
    second = laid[1].items[0]
    assert read_input(screen, laid, 1, "1") == Reading(payload=second.payload), "numbers count on their page"
    assert read_input(screen, laid, 1, str(len(laid[1].items) + 1)) == Reading(not_in_menu=True)
    assert read_input(screen, laid, 1, "Choice") == Reading(text="Choice"), "typed words go to the core"


def test_a_typed_answer_keeps_0_and_9_and_writes_skip_as_its_word() -> None:
    screen, texts = laid_out(question("10/12 - How many reports did you use?", [], skip=True))
    assert texts == ["10/12 - How many reports did you use?\nSkip: skip"]
    laid = pages(screen, EN)
    assert read_input(screen, laid, 0, "9") == Reading(text="9")
    assert read_input(screen, laid, 0, "0") == Reading(text="0")


def test_a_scale_is_one_line_typed_as_its_numbers() -> None:
    screen, texts = laid_out(question("5/12 - Relevance", ["1", "2", "3", "4", "5"]))
    assert texts == ["5/12 - Relevance\n1 2 3 4 5"]
    laid = pages(screen, EN)
    assert read_input(screen, laid, 0, "4") == Reading(payload=payloads.prompt_press(1, payloads.CHOOSE, 3))
    assert read_input(screen, laid, 0, "0") == Reading(text="0"), "the core says why 0 is no answer"


def test_ticks_and_emoji_are_written_as_operators_show_them() -> None:
    _, texts = laid_out(question("Which?", ["✅ Prices", "◻️ Labour", "Done"], op=payloads.TOGGLE))
    assert texts == [
        "Which?\nType a number to tick or untick it, then choose Done.\n1. [x] Prices\n2. [ ] Labour\n3. Done"
    ]


def test_a_select_multiple_says_how_to_tick_on_ussd_in_the_persons_language() -> None:
    screen = screen_of(
        [question("Quoi ?", ["◻️ Prix", "◻️ Emploi"], op=payloads.TOGGLE)], waiting=True, texts=Texts("fr")
    )
    assert screen.body == "Quoi ?\nTapez un numéro pour le cocher ou le décocher, puis choisissez Terminé."
    single = screen_of([question("Quoi ?", ["Prix", "Emploi"])], waiting=True, texts=Texts("fr"))
    assert single.body == "Quoi ?", "only where several are ticked"


def test_the_answered_question_is_left_out_and_an_end_is_one_screen() -> None:
    closing = Outbound(text="1/12 · Which best describes you?\n→ Media", replaces_pressed=True)
    _, texts = laid_out(closing, question("2/12 · How often?", ["Daily"]))
    assert texts == ["2/12 - How often?\n1. Daily"]
    end = screen_of([Outbound(text="word " * 80)], waiting=False, texts=EN)
    (page,) = pages(end, EN)
    assert response(end, page).startswith("END word") and page.text.endswith("word...")
    assert len(page.text) <= SCREEN_LIMIT


@settings(max_examples=150, deadline=None)
@given(
    body=st.text(min_size=0, max_size=700),
    labels=st.lists(st.text(min_size=0, max_size=300), max_size=20),
    ended=st.booleans(),
)
def test_any_text_at_all_fits_its_pages(body: str, labels: list[str], ended: bool) -> None:
    """Addresses longer than a page, emoji, Arabic, blank labels, control characters."""
    screen = screen_of([question(body, labels)], waiting=not ended, texts=EN)
    laid = pages(screen, EN)
    assert all(len(page.text) <= SCREEN_LIMIT for page in laid)
    assert [item for page in laid for item in page.items] == list(screen.items)
