"""``${name}`` in survey texts (surveys/substitution.py) and ODK markdown/HTML read into spans
(surveys/markup.py): pure functions, checked on their own."""

from __future__ import annotations

import pytest

from surveys import markup, substitution
from surveys.loader import load_survey_text
from surveys.markup import Span
from surveys.model import Survey

FORM = """
id: household
title: {en: Household, fr: Ménage}
languages: [en, fr]
questions:
  - {type: text, name: first_name, label: {en: First name, fr: Prénom}}
  - type: select_one
    name: sex
    label: {en: "Sex of ${first_name}", fr: "Sexe de ${first_name}"}
    choices: [{name: f, label: {en: Female, fr: Femme}}, {name: m, label: {en: Male, fr: Homme}}]
  - type: select_multiple
    name: langs
    label: {en: Languages, fr: Langues}
    required: false
    choices: [{name: sw, label: {en: "**Swahili**", fr: Swahili}}, {name: en, label: {en: English, fr: Anglais}}]
  - {type: integer, name: age, label: {en: "How old is **${first_name}**?", fr: "Quel âge a **${first_name}** ?"},
     constraint: ". < 120", constraint_message: {en: "${first_name} cannot be that old", fr: "${first_name} ne peut pas"}}
"""


@pytest.fixture
def survey() -> Survey:
    return load_survey_text(FORM, "household.yaml")


def test_a_reference_is_replaced_by_the_value_and_a_choice_by_its_label_in_the_language(survey: Survey) -> None:
    answers = {"first_name": "Amina", "sex": "f", "langs": "sw en"}
    assert (
        substitution.substitute("Is ${first_name} (${sex}) here?", survey, answers, "en") == "Is Amina (Female) here?"
    )
    assert substitution.substitute("${sex}", survey, answers, "fr") == "Femme"
    # select_multiple: the labels joined, in the language, without their own markup
    assert substitution.substitute("Speaks ${langs}", survey, answers, "en") == "Speaks Swahili, English"
    assert substitution.substitute("${ langs }", survey, answers, "fr") == "Swahili, Anglais"


def test_unanswered_skipped_and_unknown_names_show_nothing(survey: Survey) -> None:
    answers: dict[str, str | None] = {"first_name": None}
    text = "Is ${first_name} here? ${sex}|${nobody}|"
    assert substitution.substitute(text, survey, answers, "en") == "Is  here? ||"
    assert substitution.plain(text, survey, answers, "en") == "Is  here? ||"


def test_a_name_that_is_no_question_shows_its_value_from_the_answers(survey: Survey) -> None:
    # The repeats helper makes the current pass visible under bare names.
    assert substitution.substitute("${member_name}", survey, {"member_name": "Juma"}, "en") == "Juma"


def test_references_lists_each_name_once_in_order() -> None:
    assert substitution.references("${b} ${a} ${b} ${ c }") == ("b", "a", "c")


def test_markup_around_a_reference_formats_the_answer_and_the_answer_formats_nothing(survey: Survey) -> None:
    label = survey.question("age").label.in_language("en", "en")
    spans = substitution.rich(label, survey, {"first_name": "*Amina*_x_"}, "en")
    assert spans == (Span("How old is "), Span("*Amina*_x_", bold=True), Span("?"))


def test_underscores_of_names_are_no_italic_markers(survey: Survey) -> None:
    spans = substitution.rich("${first_name} and ${first_name}", survey, {"first_name": "Ali"}, "en")
    assert spans == (Span("Ali and Ali"),)


def test_a_reference_inside_a_link_address_is_filled(survey: Survey) -> None:
    spans = substitution.rich("[map](https://example.org/?n=${first_name})", survey, {"first_name": "Ali"}, "en")
    assert spans == (Span("map", link="https://example.org/?n=Ali"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold** and __bold__", (Span("bold", bold=True), Span(" and "), Span("bold", bold=True))),
        ("*it* and _it_", (Span("it", italic=True), Span(" and "), Span("it", italic=True))),
        ("***both***", (Span("both", bold=True, italic=True),)),
        ("snake_case_name stays", (Span("snake_case_name stays"),)),
        ("2 * 3 * 4", (Span("2 * 3 * 4"),)),
        (r"\*not italic\*", (Span("*not italic*"),)),
        ("# Title\nBody", (Span("Title", bold=True), Span("\nBody"))),
        ("### Section ###", (Span("Section", bold=True),)),
        ("one<br>two<br/>three<br />four", (Span("one\ntwo\nthree\nfour"),)),
        ('<span style="color:#ff0000">Red</span> text', (Span("Red text"),)),
        (
            "<b>B</b><i>I</i><strong>S</strong><em>E</em>",
            (Span("B", bold=True), Span("I", italic=True), Span("S", bold=True), Span("E", italic=True)),
        ),
        ("Fish &amp; chips &lt;3", (Span("Fish & chips <3"),)),
        ("age < 5 and x<y", (Span("age < 5 and x<y"),)),
        ("[ODK](https://getodk.org)", (Span("ODK", link="https://getodk.org"),)),
        ('<a href="javascript:alert(1)">click</a>', (Span("click"),)),
        ("<p>one</p><p>two</p>", (Span("one\ntwo"),)),
        ("<ul><li>a</li><li>b</li></ul>", (Span("• a\n• b"),)),
        ("  spaced  <br>  out  ", (Span("spaced\nout"),)),
        ("", ()),
    ],
)
def test_odk_markdown_and_html_become_spans(text: str, expected: tuple[Span, ...]) -> None:
    assert markup.parse(text) == expected


def test_plain_text_has_no_tag_and_keeps_a_link_address() -> None:
    text = '# Hello<br>**Bold** [site](https://nso.example) <span style="font-size:2em">big</span>'
    cleaned = markup.plain_text(text)
    assert cleaned == "Hello\nBold site (https://nso.example) big"
    assert "<" not in cleaned and "*" not in cleaned and "#" not in cleaned


def test_no_survey_text_of_the_examples_leaves_a_marker_or_a_reference(survey: Survey) -> None:
    answers = {"first_name": "Amina", "sex": "m"}
    for question in survey.questions:
        for text in (question.label, question.constraint_message):
            if text is None:
                continue
            for language in survey.languages:
                shown = substitution.plain(text.in_language(language, "en"), survey, answers, language)
                assert "${" not in shown and "**" not in shown, shown
