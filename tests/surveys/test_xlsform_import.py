"""XLSForm import: the shipped spreadsheets convert exactly, and every broken form names its sheet and row."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from surveys import runner
from surveys.loader import load_survey_text
from surveys.model import QuestionType
from surveys.xlsform import (
    XlsformConversion,
    XlsformError,
    XlsformIssue,
    convert_xlsform,
    import_command,
    language_code,
    loader_knows,
)
from testkit import make_forms
from testkit.make_forms import write_xlsform
from testkit.paths import ROOT

XLSFORMS = ROOT / "tests" / "xlsforms"
HEADER = ["type", "name", "label"]
YES_NO = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]
SETTINGS = [["form_title", "form_id"], ["Test form", "test_form"]]


def convert(path: Path, **options: Any) -> tuple[XlsformConversion, dict[str, Any]]:
    conversion = convert_xlsform(path, **options)
    return conversion, yaml.safe_load(conversion.yaml_text)


def form(tmp_path: Path, survey: Sequence[Sequence[Any]], choices: Sequence[Sequence[Any]] = YES_NO,
         settings: Sequence[Sequence[Any]] = SETTINGS, name: str = "form.xlsx") -> Path:  # fmt: skip
    return write_xlsform(tmp_path / name, survey, choices, settings)


def issues_of(path: Path, **options: Any) -> list[str]:
    with pytest.raises(XlsformError) as caught:
        convert_xlsform(path, **options)
    assert str(caught.value) == "\n".join(str(issue) for issue in caught.value.issues)
    return [str(issue) for issue in caught.value.issues]


def by_name(questions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every question and group by name, at any depth."""
    found: dict[str, dict[str, Any]] = {}
    for question in questions:
        found[question["name"]] = question
        found.update(by_name(question.get("questions", [])))
    return found


@pytest.fixture(scope="module")
def household() -> tuple[XlsformConversion, dict[str, Any]]:
    return convert(XLSFORMS / "household_listing.xlsx")


@pytest.fixture(scope="module")
def consultation() -> tuple[XlsformConversion, dict[str, Any]]:
    return convert(XLSFORMS / "user_consultation.xlsx")


@pytest.fixture(scope="module")
def quiz() -> tuple[XlsformConversion, dict[str, Any]]:
    return convert(XLSFORMS / "stat_literacy_quiz.xlsx")


# --------------------------------------------------------------------------------------------
# The shipped forms


@pytest.mark.parametrize("file_name", sorted(make_forms.FORMS))
def test_shipped_spreadsheets_match_make_forms(file_name: str) -> None:
    """The .xlsx files are what make_forms.py writes (run it after editing a form)."""
    workbook = openpyxl.load_workbook(XLSFORMS / file_name, read_only=True)
    for sheet_name, rows in zip(("survey", "choices", "settings"), make_forms.FORMS[file_name], strict=True):
        stored = [list(row) for row in workbook[sheet_name].iter_rows(values_only=True)]
        width = max(len(row) for row in rows)
        expected = [list(row) + [None] * (width - len(row)) for row in rows]
        assert [row + [None] * (width - len(row)) for row in stored] == expected, sheet_name
    workbook.close()


def test_household_listing_converts_exactly(household: tuple[XlsformConversion, dict[str, Any]]) -> None:
    conversion, data = household
    assert conversion.yaml_text.startswith("# Converted from household_listing.xlsx")
    assert conversion.dropped == []
    assert [str(w) for w in conversion.warnings] == [
        "household_listing.xlsx:survey:2: metadata 'start' (start) is not asked; recorded by Baraza: "
        "when the response began",
        "household_listing.xlsx:survey:3: metadata 'end' (end) is not asked; recorded by Baraza: "
        "when it was last answered",
    ]
    assert data == {
        "id": "household_listing",
        "title": "Household listing 2026",
        "version": "2026031501",
        "questions": [
            {"type": "start", "name": "start"},
            {"type": "end", "name": "end"},
            {"type": "text", "name": "ea_code", "label": "Enumeration area code",
             "hint": "The four digits on the listing map, e.g. 0412.", "required": True,
             "constraint": "regex(., '^[0-9]{4}$')", "constraint_message": "The code has exactly four digits."},
            {"type": "date", "name": "visit_date", "label": "Date of the visit", "required": True,
             "constraint": ". <= today()", "constraint_message": "The visit date cannot be in the future."},
            {"type": "text", "name": "head_name", "label": "Name of the head of household", "required": True},
            {"type": "select_one", "name": "head_sex", "label": "Sex of the head of household", "required": True,
             "choices": "sex"},
            {"type": "integer", "name": "head_age", "label": "Age of the head of household in completed years",
             "required": True, "constraint": ". >= 15 and . <= 110",
             "constraint_message": "The head of household is 15 to 110 years old."},
            {"type": "integer", "name": "hh_size", "label": "How many people usually live in this household?",
             "hint": "Include the head of household.", "required": True, "constraint": ". >= 1 and . <= 40",
             "constraint_message": "Enter a number from 1 to 40."},
            {"type": "integer", "name": "hh_children", "label": "How many of them are under 15 years old?",
             "required": True, "constraint": ". >= 0 and . < ${hh_size}",
             "constraint_message": "There must be fewer children than people in the household."},
            {"type": "calculate", "name": "hh_adults", "calculate": "${hh_size} - ${hh_children}"},
            {"type": "select_one", "name": "dwelling_type", "label": "Type of dwelling", "required": True,
             "choices": "dwelling"},
            {"type": "text", "name": "dwelling_other", "label": "Specify the other type of dwelling", "required": True,
             "relevant": "${dwelling_type} = 'other'"},
            {"type": "select_one", "name": "tenure", "label": "Does the household own or rent this dwelling?",
             "required": True, "choices": "tenure", "appearance": "horizontal"},
            {"type": "decimal", "name": "monthly_rent", "label": "How much rent does the household pay per month?",
             "hint": "In local currency.", "required": False, "relevant": "${tenure} = 'rented'",
             "constraint": ". > 0", "constraint_message": "The rent must be more than 0."},
            {"type": "select_one", "name": "has_electricity", "label": "Does the household have electricity?",
             "required": True, "choices": "yes_no"},
            {"type": "note", "name": "listing_done", "label": "Thank you. The household is listed."},
        ],
        "choices": {
            "sex": [{"name": "male", "label": "Male"}, {"name": "female", "label": "Female"}],
            "dwelling": [
                {"name": "house", "label": "Detached house"}, {"name": "apartment", "label": "Apartment or flat"},
                {"name": "traditional", "label": "Traditional hut"},
                {"name": "improvised", "label": "Improvised or makeshift"}, {"name": "other", "label": "Other"},
            ],
            "tenure": [{"name": "owned", "label": "Owned"}, {"name": "rented", "label": "Rented"},
                       {"name": "free", "label": "Lives there free"}],
            "yes_no": [{"name": "yes", "label": "Yes"}, {"name": "no", "label": "No"}],
        },
    }  # fmt: skip


def test_household_listing_yaml_is_readable(household: tuple[XlsformConversion, dict[str, Any]]) -> None:
    text = household[0].yaml_text
    assert "\n  - type: integer\n    name: head_age\n" in text  # block style for questions
    assert "\n    - {name: male, label: Male}\n" in text  # flow style for choices
    assert "\n    - {name: 'yes', label: 'Yes'}\n" in text  # YAML 1.1 booleans stay strings
    assert "\n\n  - type: date\n" in text  # a blank line between questions


def test_consultation_converts_languages_groups_filters_and_messages(
    consultation: tuple[XlsformConversion, dict[str, Any]],
) -> None:
    conversion, data = consultation
    assert conversion.dropped == []
    assert [w.message for w in conversion.warnings] == [
        "form_title cannot be translated in XLSForm; the same title is used in fr, pt, ar: translate it in the YAML file"
    ]
    assert data["id"] == "user_consultation_2026"
    assert data["default_language"] == "en"
    assert data["languages"] == ["en", "fr", "pt", "ar"]
    assert data["version"] == "2026040101"
    assert data["title"] == dict.fromkeys(["en", "fr", "pt", "ar"], "User consultation on official statistics 2026")

    top = [(q["type"], q["name"]) for q in data["questions"]]
    assert top == [
        ("note", "welcome"), ("select_one", "user_type"), ("text", "user_type_other"), ("select_one", "region"),
        ("select_one", "district"), ("select_one", "frequency"), ("group", "usage"), ("select_one", "contact_ok"),
        ("text", "contact_email"), ("calculate", "topic_count"), ("text", "suggestions"),
    ]  # fmt: skip
    questions = by_name(data["questions"])
    usage = questions["usage"]
    assert list(usage) == ["type", "name", "label", "relevant", "questions"]
    assert usage["relevant"] == "${frequency} != 'never'"
    assert [q["name"] for q in usage["questions"]] == [
        "topics", "channels", "satisfaction", "found_easily", "difficulties",
    ]  # fmt: skip
    difficulties = questions["difficulties"]
    assert difficulties["relevant"] == "${found_easily} = 'no'"
    assert difficulties["label"] == {"en": "Difficulties", "fr": "Difficultés", "pt": "Dificuldades", "ar": "الصعوبات"}
    assert difficulties["questions"] == [
        {"type": "select_multiple", "name": "difficulty_reasons", "required": True, "choices": "difficulty",
         "label": {"en": "What made it difficult?", "fr": "Qu'est-ce qui a rendu la recherche difficile ?",
                   "pt": "O que dificultou a pesquisa?", "ar": "ما الذي جعل ذلك صعبًا؟"}},
    ]  # fmt: skip

    topics = questions["topics"]
    assert list(topics) == [
        "type", "name", "label", "hint", "required", "required_message", "constraint", "constraint_message", "choices",
    ]  # fmt: skip
    assert topics["constraint"] == "count-selected(.) <= 3"
    assert topics["required_message"] == {
        "en": "Please choose at least one topic.", "fr": "Veuillez choisir au moins un thème.",
        "pt": "Escolha pelo menos um tema.", "ar": "يرجى اختيار موضوع واحد على الأقل.",
    }  # fmt: skip
    assert topics["constraint_message"]["ar"] == "اختر ثلاثة مواضيع على الأكثر."
    assert questions["satisfaction"] == {
        "type": "range", "name": "satisfaction", "required": True, "appearance": "likert",
        "start": 1, "end": 5, "step": 1,
        "label": {"en": "Overall, how satisfied are you with our statistics?",
                  "fr": "Dans l'ensemble, êtes-vous satisfait de nos statistiques ?",
                  "pt": "De um modo geral, está satisfeito com as nossas estatísticas?",
                  "ar": "بشكل عام، ما مدى رضاك عن إحصاءاتنا؟"},
        "hint": {"en": "1 = very dissatisfied, 5 = very satisfied.", "fr": "1 = très insatisfait, 5 = très satisfait.",
                 "pt": "1 = muito insatisfeito, 5 = muito satisfeito.", "ar": "1 = غير راضٍ إطلاقًا، 5 = راضٍ جدًا."},
    }  # fmt: skip
    assert questions["district"]["choice_filter"] == "region = ${region}"
    assert questions["user_type_other"]["relevant"] == "${user_type} = 'other'"
    assert questions["contact_email"]["constraint"] == "regex(., '^[^@ ]+@[^@ ]+[.][^@ ]+$')"
    assert set(questions["contact_email"]["constraint_message"]) == {"en", "fr", "pt", "ar"}
    assert questions["topic_count"] == {
        "type": "calculate",
        "name": "topic_count",
        "calculate": "count-selected(${topics})",
    }
    assert questions["suggestions"]["required"] is False

    # Every text of the survey sheet is in all four languages, as in the spreadsheet.
    header = make_forms.CONSULTATION_SURVEY[0]
    for row in make_forms.CONSULTATION_SURVEY[1:]:
        values = dict(zip(header, row, strict=True))
        if values["type"] == "end_group":
            continue
        question = questions[values["name"]]
        for column in ("label", "hint", "required_message", "constraint_message"):
            texts = {code: values[f"{column}::{language}"] for code, language in
                     zip(("en", "fr", "pt", "ar"), make_forms.LANGUAGES, strict=True)}  # fmt: skip
            if any(texts.values()):
                assert question[column] == texts, (values["name"], column)
            else:
                assert column not in question


def test_consultation_choices_keep_their_extra_columns(consultation: tuple[XlsformConversion, dict[str, Any]]) -> None:
    choices = consultation[1]["choices"]
    assert list(choices) == [
        "user_type",
        "region",
        "district",
        "frequency",
        "topics",
        "channels",
        "difficulty",
        "yes_no",
    ]
    assert choices["district"][0] == {
        "name": "hillside", "label": {"en": "Hillside", "fr": "Colline", "pt": "Encosta", "ar": "التلال"},
        "region": "north",
    }  # fmt: skip
    assert [(c["name"], c["region"]) for c in choices["district"]] == [
        ("hillside", "north"), ("lakeside", "north"), ("riverbend", "south"), ("plains", "south"),
        ("harbour", "coast"), ("dunes", "coast"),
    ]  # fmt: skip
    assert all("region" not in choice for choice in choices["region"])  # empty cells are no column
    assert choices["yes_no"][1] == {"name": "no", "label": {"en": "No", "fr": "Non", "pt": "Não", "ar": "لا"}}


def test_quiz_converts_correct_and_explanation(quiz: tuple[XlsformConversion, dict[str, Any]]) -> None:
    conversion, data = quiz
    assert conversion.dropped == [] and conversion.warnings == []
    assert {k: v for k, v in data.items() if k not in ("questions", "choices")} == {
        "id": "stat_literacy_quiz", "title": "How well do you know your statistics?", "version": "1", "kind": "quiz",
    }  # fmt: skip
    questions = by_name(data["questions"])
    assert [q["name"] for q in data["questions"]] == [
        "intro_note", "q_median", "q_points", "q_correlation", "q_inflation", "q_sample", "age",
    ]  # fmt: skip
    assert questions["q_median"] == {
        "type": "select_one", "name": "q_median", "required": True, "choices": "average", "correct": "median",
        "label": "In a village, nine households earn 100 a month and one earns 10,000. Which average best describes a "
                 "typical household?",
        "explanation": "The median (100) is the middle value and is not pulled up by the one very rich household; the "
                       "mean is 1,090.",
    }  # fmt: skip
    assert list(questions["q_points"]) == ["type", "name", "label", "required", "choices", "correct", "explanation"]
    assert {name: q.get("correct") for name, q in questions.items()} == {
        "intro_note": None, "q_median": "median", "q_points": "points", "q_correlation": "weather",
        "q_inflation": "slower", "q_sample": "close", "age": None,
    }  # fmt: skip
    assert questions["age"] == {
        "type": "integer", "name": "age", "label": "How old are you? (optional)",
        "hint": "Only to see which age groups take the quiz.", "required": False,
        "constraint": ". >= 10 and . <= 120", "constraint_message": "Enter an age from 10 to 120.",
    }  # fmt: skip
    for list_name, items in data["choices"].items():
        assert len(items) == 3, list_name


@pytest.mark.parametrize("file_name", sorted(make_forms.FORMS))
def test_shipped_forms_load_in_baraza(file_name: str) -> None:
    conversion = convert_xlsform(XLSFORMS / file_name)
    survey = load_survey_text(conversion.yaml_text, file_name.replace(".xlsx", ".yaml"))
    if file_name == "user_consultation.xlsx":
        assert survey.languages == ("en", "fr", "pt", "ar")
        district = survey.question("district")
        assert district.choice_filter is not None
        assert district.choices[0].columns == {"region": "north"}
        assert survey.question("difficulty_reasons").groups == ("usage", "difficulties")
        assert len(survey.question("difficulty_reasons").relevant) == 2
        assert survey.question("topic_count").type is QuestionType.CALCULATE
    elif file_name == "stat_literacy_quiz.xlsx":
        assert survey.is_quiz
        assert survey.question("q_sample").correct == "close"
    else:
        assert survey.question("hh_adults").calculation is not None


@pytest.mark.slow  # runs baraza as a new process
def test_baraza_survey_check_accepts_the_imported_forms(tmp_path: Path) -> None:
    outputs = []
    for file_name in sorted(make_forms.FORMS):
        output = tmp_path / file_name.replace(".xlsx", ".yaml")
        assert import_command(XLSFORMS / file_name, output, drop_unsupported=False) == 0
        outputs.append(output)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "survey", "check", *map(str, outputs)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok: survey") == 3


# --------------------------------------------------------------------------------------------
# Types, columns and settings


def test_every_supported_type_and_column(tmp_path: Path) -> None:
    columns = ["type", "name", "label", "hint", "required", "required_message", "relevant", "constraint",
               "constraint_message", "default", "calculation", "choice_filter", "appearance", "parameters",
               "min_choices", "max_choices", "max_length"]  # fmt: skip
    empty = [None] * (len(columns) - 3)

    def row(kind: str, name: str, label: str | None, **values: Any) -> list[Any]:
        cells = dict(zip(columns[3:], empty, strict=True)) | values
        return [kind, name, label, *cells.values()]

    path = form(tmp_path, [
        columns,
        row("integer", "age", "Age?", required="TRUE()", required_message="Age, please.", constraint=". >= 0",
            constraint_message="Not negative.", default=30),
        row("decimal", "weight", "Weight?", required="no", default="62.5", hint="In kg."),
        row("text", "why", "Why?", required="${age} > 60", max_length=200, appearance="multiline"),
        row("select_multiple yn", "many", "Which?", required="true", min_choices=1, max_choices=2,
            parameters="randomize=true"),
        row("select one yn", "one", "One?", required="yes", default="yes", choice_filter="name != 'no'",
            appearance="minimal"),
        row("range", "plain_range", "Plain range?"),
        row("range", "scale", "Scale?", parameters="start=0 end=1 step=0.25", appearance="vertical"),
        row("begin group", "outer", None, relevant="${age} > 1", appearance="field-list"),
        row("begin_group", "inner", "Inner"),
        row("date", "when", "When?", required="yes"),
        row("end_group", "", None),
        row("end group", "", None),
        row("calculate", "double", None, calculation="${age} * 2"),
        row("note", "bye", "Bye"),
    ])  # fmt: skip
    conversion, data = convert(path)
    questions = by_name(data["questions"])
    assert questions["age"] == {
        "type": "integer", "name": "age", "label": "Age?", "required": True, "required_message": "Age, please.",
        "constraint": ". >= 0", "constraint_message": "Not negative.", "default": 30,
    }  # fmt: skip
    assert questions["weight"] == {
        "type": "decimal", "name": "weight", "label": "Weight?", "hint": "In kg.", "required": False, "default": 62.5,
    }  # fmt: skip
    assert questions["why"] == {
        "type": "text", "name": "why", "label": "Why?", "required": "${age} > 60", "appearance": "multiline",
        "max_length": 200,
    }  # fmt: skip
    assert questions["many"] == {
        "type": "select_multiple", "name": "many", "label": "Which?", "required": True, "choices": "yn",
        "randomize": True, "min_choices": 1, "max_choices": 2,
    }  # fmt: skip
    assert questions["one"] == {
        "type": "select_one", "name": "one", "label": "One?", "required": True, "default": "yes",
        "choice_filter": "name != 'no'", "choices": "yn", "appearance": "minimal",
    }  # fmt: skip
    # pyxform's defaults for a range (1, 10, 1) are written out: Baraza's own default start is 0.
    assert questions["plain_range"] | {} == {
        "type": "range", "name": "plain_range", "label": "Plain range?", "required": False, "start": 1, "end": 10,
        "step": 1,
    }  # fmt: skip
    assert (questions["scale"]["start"], questions["scale"]["end"], questions["scale"]["step"]) == (0, 1, 0.25)
    assert questions["outer"] == {
        "type": "group", "name": "outer", "relevant": "${age} > 1",
        "questions": [{"type": "group", "name": "inner", "label": "Inner", "questions": [
            {"type": "date", "name": "when", "label": "When?", "required": True}]}],
    }  # fmt: skip
    assert questions["double"] == {"type": "calculate", "name": "double", "calculate": "${age} * 2"}
    assert questions["bye"] == {"type": "note", "name": "bye", "label": "Bye"}
    assert [str(w) for w in conversion.warnings] == [
        "form.xlsx:survey:9: appearance 'field-list' of 'outer' ignored: no meaning in a chat",
    ]
    load_survey_text(conversion.yaml_text, "form.yaml")


def test_settings_sheet_and_extensions(tmp_path: Path) -> None:
    import datetime

    settings: list[list[Any]] = [
        ["form_title", "form_id", "version", "default_language", "confirm", "opens", "closes",
         "max_responses_per_user", "anonymous", "kind", "style", "intro::Français", "intro::English (en)"],
        ["Enquête pilote", "pilot survey (2026)!", 3, "Français", "yes", datetime.datetime(2026, 3, 1),
         "2026-12-31", 2, "TRUE", "survey", "pages", "Bienvenue", "Welcome"],
    ]  # fmt: skip
    path = form(tmp_path, [["type", "name", "label", "label::English (en)"], ["integer", "n", "Combien ?", "How many?"]],
                choices=(), settings=settings)  # fmt: skip
    conversion, data = convert(path)
    assert {k: v for k, v in data.items() if k != "questions"} == {
        "id": "pilot_survey_2026", "title": {"fr": "Enquête pilote", "en": "Enquête pilote"},
        "default_language": "fr", "languages": ["fr", "en"], "version": "3", "confirm": True, "opens": "2026-03-01",
        "closes": "2026-12-31", "max_responses_per_user": 2, "anonymous": True, "kind": "survey",
        "intro": {"fr": "Bienvenue", "en": "Welcome"},
    }  # fmt: skip
    assert data["questions"][0]["label"] == {"fr": "Combien ?", "en": "How many?"}  # a plain label is the default
    assert [str(w) for w in conversion.warnings] == [
        "form.xlsx:settings:2: survey id 'pilot_survey_2026' made from form_id 'pilot survey (2026)!'",
        "form.xlsx:settings:2: form_title cannot be translated in XLSForm; the same title is used in en: translate it in the YAML file",
        "form.xlsx:settings:2: setting 'style' has no meaning in a chat; ignored",
    ]
    survey = load_survey_text(conversion.yaml_text, "pilot.yaml")
    assert survey.opens == datetime.date(2026, 3, 1) and survey.confirm and survey.anonymous


def test_without_settings_the_file_name_is_the_id_and_title(tmp_path: Path) -> None:
    path = write_xlsform(tmp_path / "Market prices.xlsx", [HEADER, ["integer", "price", "Price?"]])
    conversion, data = convert(path)
    assert data["id"] == "Market_prices"
    assert data["title"] == "Market prices"
    assert "default_language" not in data and "languages" not in data
    assert [w.message for w in conversion.warnings] == [
        "survey id 'Market_prices' made from the file name 'Market prices'",
        "no form_title in the settings sheet; the title is 'Market prices'",
    ]


@pytest.mark.parametrize(
    ("declaration", "code"),
    [("English (en)", "en"), ("French (fr)", "fr"), ("English", "en"), ("en", "en"), ("Portuguese", "pt"),
     ("Arabic", "ar"), ("Swahili", "sw"), ("Kiswahili", "sw"), ("Spanish", "es"), ("Français", "fr"),
     ("Português (pt-BR)", "pt-br"), ("Kinyarwanda (rw)", "rw"), ("Klingon", None), ("Klingon (tlh)", "tlh")],
)  # fmt: skip
def test_language_codes(declaration: str, code: str | None) -> None:
    assert language_code(declaration) == code


def test_translation_column_spellings(tmp_path: Path) -> None:
    survey: list[list[Any]] = [
        ["type", "name", "label::English", "label::fr", "hint::English", "hint::fr", "constraint",
         "constraint_message::English", "constraint_message::fr"],
        ["integer", "n", "How many?", "Combien ?", "A number.", "Un nombre.", ". > 0", "Positive.", "Positif."],
        ["select_one yn", "ok", "OK?", "D'accord ?", None, None, None, None, None],
    ]  # fmt: skip
    choices = [
        ["list_name", "name", "label::English", "label::fr"],
        ["yn", "yes", "Yes", "Oui"],
        ["yn", "no", "No", "Non"],
    ]
    _, data = convert(form(tmp_path, survey, choices, settings=[["form_id", "form_title"], ["t", "T"]]))
    assert data["default_language"] == "en" and data["languages"] == ["en", "fr"]
    assert data["questions"][0] == {
        "type": "integer", "name": "n", "label": {"en": "How many?", "fr": "Combien ?"},
        "hint": {"en": "A number.", "fr": "Un nombre."}, "required": False, "constraint": ". > 0",
        "constraint_message": {"en": "Positive.", "fr": "Positif."},
    }  # fmt: skip
    assert data["choices"]["yn"] == [
        {"name": "yes", "label": {"en": "Yes", "fr": "Oui"}}, {"name": "no", "label": {"en": "No", "fr": "Non"}},
    ]  # fmt: skip


def test_metadata_questions_are_recorded_never_asked(tmp_path: Path) -> None:
    survey: list[list[Any]] = [[*HEADER, "relevant"], ["start", "started", None, None], ["today", "today", None, None],
              ["deviceid", "device", None, None], ["username", "user", None, None],
              ["date", "visit", "Visit date?", "${today} != ''"]]  # fmt: skip
    conversion, data = convert(form(tmp_path, survey))
    assert data["questions"] == [
        {"type": "start", "name": "started"}, {"type": "today", "name": "today"},
        {"type": "deviceid", "name": "device"}, {"type": "username", "name": "user"},
        {"type": "date", "name": "visit", "label": "Visit date?", "required": False, "relevant": "${today} != ''"},
    ]  # fmt: skip
    # Listed once each, with its row and what happens to it.
    assert [str(w) for w in conversion.warnings] == [
        "form.xlsx:survey:2: metadata 'started' (start) is not asked; recorded by Baraza: when the response began",
        "form.xlsx:survey:3: metadata 'today' (today) is not asked; recorded by Baraza: the day it began",
        "form.xlsx:survey:4: metadata 'device' (deviceid) is not asked; recorded empty: a chat has no device, "
        "SIM card or phone account to read it from",
        "form.xlsx:survey:5: metadata 'user' (username) is not asked; recorded empty: a chat has no device, "
        "SIM card or phone account to read it from",
    ]
    assert [w.kind for w in conversion.warnings] == ["start", "today", "deviceid", "username"]
    assert conversion.dropped == []
    loaded = load_survey_text(conversion.yaml_text, "form.yaml")
    assert [q.name for q in loaded.questions if q.is_asked] == ["visit"]
    outcome = runner.start(loaded, date(2026, 3, 31), now=datetime(2026, 3, 31, 9, 5, 7, 123, tzinfo=UTC))
    assert outcome.state.current == "visit"
    assert dict(outcome.recorded) == {
        "started": "2026-03-31T09:05:07+00:00", "today": "2026-03-31", "device": None, "user": None,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# What a chat cannot run


def unsupported_form(tmp_path: Path) -> Path:
    return form(tmp_path, [
        [*HEADER, "relevant", "calculation"],
        ["integer", "members", "How many members?", None, None],  # row 2
        ["background-audio", "where_start", None, None, None],  # row 3
        ["begin group", "g", "G", None, None],  # row 4
        ["text", "why", "Why?", "${members} > 1", None],  # row 5
        ["end group", None, None, None, None],  # row 6
        ["xml-external", "house", "The house", None, None],  # row 7
        ["calculate", "looked_up", None, None, "pulldata(concat('p', ${members}), 'price', 'item', 'rice')"],  # row 8
        ["csv-external", "ranking", "Rank these", None, None],  # row 9
        ["select_one_from_file places.xml", "place", "Place?", None, None],  # row 10
        ["text", "comment", "Comment?", "${members} > 0", None],  # row 11
    ])  # fmt: skip


def test_unsupported_types_are_errors_with_their_rows(tmp_path: Path) -> None:
    advice = " (convert with --drop-unsupported to leave it out)"
    assert issues_of(unsupported_form(tmp_path)) == [
        "form.xlsx:survey:3: background-audio question 'where_start': a chat cannot collect a sound recording in "
        "the background" + advice,
        "form.xlsx:survey:7: xml-external question 'house': a chat cannot collect an external data file" + advice,
        "form.xlsx:survey:8: calculate question 'looked_up': its pulldata() names the file with an expression; "
        "Baraza reads files named in quotes or by ${q}" + advice,
        "form.xlsx:survey:9: csv-external question 'ranking': a chat cannot collect an external data file" + advice,
    ]


def test_drop_unsupported_lists_what_was_left_out(tmp_path: Path) -> None:
    conversion, data = convert(unsupported_form(tmp_path), drop_unsupported=True)
    assert [(q["name"], q["type"]) for q in data["questions"]] == [
        ("members", "integer"), ("g", "group"), ("place", "select_one"), ("comment", "text"),
    ]  # fmt: skip
    assert [(issue.row, issue.kind) for issue in conversion.dropped] == [
        (3, "background-audio"), (7, "xml-external"), (8, "pulldata (file named by an expression)"),
        (9, "csv-external"),
    ]  # fmt: skip
    assert conversion.left_out.keys() == {"where_start", "house", "looked_up", "ranking"}
    load_survey_text(conversion.yaml_text, "form.yaml")


def test_references_to_left_out_questions(tmp_path: Path) -> None:
    path = form(tmp_path, [
        [*HEADER, "relevant", "constraint"],
        ["hidden", "house", "The house", None, None],
        ["text", "a", "A?", "${house} != ''", None],
        ["text", "b", "B?", "${a} != ''", None],
        ["text", "c", "C?", None, None],
    ])  # fmt: skip
    assert len(issues_of(path)) == 1  # the hidden question, at row 2
    # Dropping goes on along the references: a refers to house, b to a.
    conversion, data = convert(path, drop_unsupported=True)
    assert [q["name"] for q in data["questions"]] == ["c"]
    assert [str(issue) for issue in conversion.dropped] == [
        "form.xlsx:survey:2: dropped hidden question 'house': a chat cannot collect a hidden value",
        "form.xlsx:survey:3: dropped: relevant refers to ${house}, which is left out (hidden)",
        "form.xlsx:survey:4: dropped: relevant refers to ${a}, which is left out (it refers to ${house})",
    ]


def test_media_locations_and_repeats_are_converted_as_contract_16_says(tmp_path: Path) -> None:
    path = form(tmp_path, [
        [*HEADER, "relevant", "parameters", "repeat_count"],
        ["integer", "members", "How many members?", None, None, None],
        ["geopoint", "gps", "Where is the dwelling?", None, None, None],
        ["begin_repeat", "member", "Member", "${members} > 0", None, "${members}"],
        ["text", "member_name", "Name", None, None, None],
        ["image", "member_photo", "Photo", None, "max-pixels=1024", None],
        ["end_repeat", None, None, None, None, None],
        ["begin repeat", "visit", "Visit", None, None, None],
        ["audio", "note", "Say something", None, None, None],
        ["end repeat", None, None, None, None, None],
        ["video", "clip", "A clip", None, None, None],
        ["file", "doc", "A document", None, None, None],
        ["geotrace", "road", "The road", None, None, None],
        ["geoshape", "field", "The field", None, None, None],
    ])  # fmt: skip
    conversion, data = convert(path, all_types=True)
    questions = data["questions"]
    assert questions[1] == {"type": "geopoint", "name": "gps", "label": "Where is the dwelling?", "required": False}
    assert questions[2] == {
        "type": "repeat", "name": "member", "label": "Member", "relevant": "${members} > 0",
        "repeat_count": "${members}", "questions": [
            {"type": "text", "name": "member_name", "label": "Name", "required": False},
            {"type": "image", "name": "member_photo", "label": "Photo", "required": False, "max_pixels": 1024},
        ],
    }  # fmt: skip
    assert questions[3]["questions"] == [{"type": "audio", "name": "note", "label": "Say something", "required": False}]
    assert "repeat_count" not in questions[3]
    assert [q["type"] for q in questions[4:]] == ["video", "file", "geotrace", "geoshape"]
    assert conversion.dropped == []
    # Without all_types, what this version's loader does not run is unsupported, with its row.
    for type_name, row in (("geopoint", 3), ("repeat", 4), ("video", 11)):
        if not loader_knows(type_name):
            assert any(f"form.xlsx:survey:{row}: " in issue for issue in issues_of(path))


def test_xpath_paths_in_expressions_are_errors(tmp_path: Path) -> None:
    path = form(tmp_path, [[*HEADER, "relevant"], ["integer", "a", "A?", None], ["integer", "b", "B?", "/data/a > 1"],
                           ["text", "c", "C?", "${a} = 'x/y'"]])  # fmt: skip
    assert issues_of(path) == [
        "form.xlsx:survey:3: relevant '/data/a > 1' uses an XPath path such as /data/name; write ${name} instead"
    ]


# --------------------------------------------------------------------------------------------
# Broken spreadsheets: pyxform's own checks, with the sheet and row


@pytest.mark.parametrize(
    ("rows", "choices", "expected"),
    [
        pytest.param([HEADER, ["integer", "a", "A?"], ["integer", None, "B?"]], YES_NO,
                     "form.xlsx:survey:3: Question or group with no name.", id="missing-name"),
        pytest.param([HEADER, ["integer", "a", "A?"], ["text", "b", "B?"], ["slider", "c", "C?"]], YES_NO,
                     "form.xlsx:survey:4: Unknown question type 'slider'.", id="unknown-type"),
        pytest.param([HEADER, ["integer", "a", "A?"], ["select_one colours", "b", "B?"]], YES_NO,
                     "form.xlsx:survey:3: List name not in choices sheet: colours", id="bad-choices-reference"),
        pytest.param([HEADER, ["integer", "a", "A?"], ["text", "b", "B?"], ["text", "a", "Again?"]], YES_NO,
                     "form.xlsx:survey:4: On the 'survey' sheet, the 'name' value 'a' is invalid. Questions, groups, "
                     "and repeats must be unique within their nearest parent group or repeat, or the survey if not "
                     "inside a group or repeat.", id="duplicate-names"),
        pytest.param([HEADER, ["select_one yn", "a", "A?"]], [*YES_NO, ["yn", "yes", "Oui"]],
                     "form.xlsx:choices:4: On the 'choices' sheet, the 'name' value is invalid. Choice names must be "
                     "unique for each choice list. If this is intentional, use the setting 'allow_choice_duplicates'. "
                     "Learn more: https://xlsform.org/#choice-names.", id="duplicate-choice"),
        pytest.param([[*HEADER, "relevant"], ["integer", "a", "A?", None], ["integer", "b", "B?", "${z} > 1"]], YES_NO,
                     "form.xlsx:survey:3: On the 'survey' sheet, the 'relevant' value is invalid. Reference variables "
                     "must contain a name from the 'survey' sheet. Could not find the name 'z'.", id="unknown-reference"),
        pytest.param([HEADER, ["begin_group", "g", "G"], ["integer", "a", "A?"]], YES_NO,
                     "form.xlsx:survey:2: Unmatched 'begin_group'. No matching 'end_group' was found for the name 'g'.",
                     id="unmatched-group"),
        pytest.param([[*HEADER, "parameters"], ["range", "r", "R?", "start=1 end=5 step=x"]], YES_NO,
                     "form.xlsx:survey:2: On the 'survey' sheet, the 'parameters' value is invalid. For the 'range' "
                     "question type, the parameter 'step' must be a number.", id="bad-range"),
        pytest.param([HEADER, ["integer", "a", "A?"], ["integer", "b", None]], YES_NO,
                     "form.xlsx:survey:3: The survey element named 'b' has no label or hint.", id="no-label"),
    ],
)  # fmt: skip
def test_pyxform_errors_name_the_sheet_and_row(
    tmp_path: Path, rows: list[list[Any]], choices: list[list[Any]], expected: str
) -> None:
    assert issues_of(form(tmp_path, rows, choices)) == [expected]


def test_pyxform_errors_and_our_own_are_reported_together(tmp_path: Path) -> None:
    path = form(
        tmp_path, [HEADER, ["background-audio", "gps", "Where?"], ["integer", "a", "A?"], ["text", "a", "Again?"]]
    )
    issues = issues_of(path)
    assert [issue.split(": ")[0] for issue in issues] == ["form.xlsx:survey:2", "form.xlsx:survey:4"]


def test_a_language_without_a_code_gets_a_private_one_with_a_warning(tmp_path: Path) -> None:
    survey = [["type", "name", "label::English (en)", "label::Klingon"], ["integer", "a", "A?", "A'?"]]
    choices = [["list_name", "name", "label::English (en)", "label::Elvish"], ["yn", "yes", "Yes", "Yes"]]
    conversion, data = convert(form(tmp_path, survey, choices))
    assert data["questions"][0]["label"] == {"en": "A?", "x-klingon": "A'?"}
    assert [str(w) for w in conversion.warnings if w.row == 1] == [
        "form.xlsx:survey:1: language 'Klingon' of column 'label::Klingon' has no ISO code that Baraza knows: called "
        "'x-klingon'; write it as 'label::Klingon (xx)' with its ISO 639 code so that people whose language it is "
        "see it",
        "form.xlsx:choices:1: language 'Elvish' of column 'label::Elvish' has no ISO code that Baraza knows: called "
        "'x-elvish'; write it as 'label::Elvish (xx)' with its ISO 639 code so that people whose language it is see it",
    ]
    survey_loaded = load_survey_text(conversion.yaml_text, "form.yaml")
    assert survey_loaded.languages == ("en", "x-elvish", "x-klingon")


def test_files_that_are_not_xlsforms(tmp_path: Path) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_bytes(b"not a spreadsheet")
    assert issues_of(text)[0].startswith("notes.xlsx: not an XLSForm spreadsheet")
    assert issues_of(tmp_path / "missing.xlsx") == ["missing.xlsx: no such file"]
    workbook = openpyxl.Workbook()
    assert workbook.active is not None
    workbook.active.title = "survey"
    workbook.create_sheet("choices").append(["list_name", "name", "label"])
    workbook.save(tmp_path / "empty.xlsx")
    assert issues_of(tmp_path / "empty.xlsx") == ["empty.xlsx: the workbook has no 'survey' sheet with questions"]


def test_issue_format() -> None:
    issue = XlsformIssue("FORM.xlsx", "survey", 7, "something")
    assert str(issue) == "FORM.xlsx:survey:7: something"
    assert str(XlsformIssue("FORM.xlsx", "", 0, "unreadable")) == "FORM.xlsx: unreadable"
    assert str(XlsformError([issue, issue])) == "FORM.xlsx:survey:7: something\nFORM.xlsx:survey:7: something"


# --------------------------------------------------------------------------------------------
# The import command


def test_import_command_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "household.yaml"
    assert import_command(XLSFORMS / "household_listing.xlsx", output, drop_unsupported=False) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert output.read_text(encoding="utf-8") == convert_xlsform(XLSFORMS / "household_listing.xlsx").yaml_text
    assert "household_listing.xlsx:survey:2: warning: metadata 'start' (start) is not asked" in captured.err
    assert f"converted to {output}: survey 'household_listing', 15 questions, languages en" in captured.err


def test_import_command_writes_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert import_command(XLSFORMS / "stat_literacy_quiz.xlsx", None, drop_unsupported=False) == 0
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out)["kind"] == "quiz"
    assert "converted to stat_literacy_quiz.yaml" in captured.err


def test_import_command_fails_on_unsupported_types_and_drops_them_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = form(tmp_path, [HEADER, ["hidden", "house", "Where?"], ["integer", "a", "A?"]])
    output = tmp_path / "out.yaml"
    assert import_command(path, output, drop_unsupported=False) == 1
    assert not output.exists()
    err = capsys.readouterr().err
    assert "form.xlsx:survey:2: hidden question 'house': a chat cannot collect a hidden value" in err
    assert import_command(path, output, drop_unsupported=True) == 0
    err = capsys.readouterr().err
    assert "form.xlsx:survey:2: dropped hidden question 'house'" in err
    assert "1 left out" in err
    assert [q["name"] for q in yaml.safe_load(output.read_text(encoding="utf-8"))["questions"]] == ["a"]


def test_import_command_reports_what_baraza_rejects_at_the_spreadsheet_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pyxform accepts any regex; Baraza refuses one Python cannot compile, at the row, never a YAML line."""
    survey: list[list[Any]] = [["type", "name", "label", "constraint"], ["select_one yn", "a", "A?", None],
              ["text", "b", "B?", "regex(., '[')"]]  # fmt: skip
    choices: list[list[Any]] = [["list_name", "name", "label"], ["yn", 1, "Yes"], ["yn", 2, "No"]]
    output = tmp_path / "out.yaml"
    assert import_command(form(tmp_path, survey, choices), output, drop_unsupported=False) == 1
    assert not output.exists()
    err = capsys.readouterr().err.splitlines()
    assert any(
        line.startswith("form.xlsx:survey:3: constraint of question 'b': column 10: invalid regex()") for line in err
    )
    assert not any("line" in line and "YAML" in line for line in err)
    assert not any("choice name" in line for line in err), "numeric choice codes, as in ODK, are accepted"
    assert err[-1].endswith("not converted: Baraza's survey check rejects the result")


def test_source_rows_map_yaml_lines_back_to_the_spreadsheet(
    consultation: tuple[XlsformConversion, dict[str, Any]],
) -> None:
    conversion = consultation[0]
    lines = conversion.yaml_text.splitlines()
    assert conversion.source_of(lines.index("id: user_consultation_2026") + 1) == ("settings", 2)
    topics = lines.index("      - type: select_multiple") + 1
    assert conversion.source_of(topics) == ("survey", 9)
    assert conversion.source_of(topics + 3) == ("survey", 9)
    hillside = next(i for i, line in enumerate(lines) if "name: hillside" in line) + 1
    assert conversion.source_of(hillside) == ("choices", 11)


def test_a_plain_label_beside_translated_ones_is_the_default_language(tmp_path: Path) -> None:
    """As pyxform: without default_language, a plain label beside label::French is the form's own default."""
    survey = [
        ["type", "name", "label", "label::French (fr)", "hint"],
        ["integer", "a", "How many?", "Combien ?", "Count"],
    ]
    conversion, data = convert(form(tmp_path, survey, choices=()))
    assert data["default_language"] == "und"
    assert data["questions"][0]["label"] == {"und": "How many?", "fr": "Combien ?"}
    assert data["questions"][0]["hint"] == "Count" or data["questions"][0]["hint"] == {"und": "Count"}
    assert any(
        "form.xlsx:survey:1: columns 'label', 'hint' without a language next to 'label::French (fr)': taken as "
        "the form's default language ('und')" in str(warning)
        for warning in conversion.warnings
    )
    loaded = load_survey_text(conversion.yaml_text, "form.yaml")
    assert loaded.questions[0].label.in_language("fr", loaded.default_language) == "Combien ?"
    assert loaded.questions[0].label.in_language("sw", loaded.default_language) == "How many?"
    # A plain hint only beside translated labels: the first language's.
    survey = [["type", "name", "label::English (en)", "label::French (fr)", "hint"], ["integer", "a", "A?", "A ?", "H"]]
    conversion, data = convert(form(tmp_path, survey, choices=(), name="hint.xlsx"))
    assert data["default_language"] == "en"
    assert data["questions"][0]["hint"] == {"en": "H"}
    # default_language in any case, as a name or a code.
    for declared in ("English (en)", "english", "EN", "en"):
        settings = [["form_id", "form_title", "default_language"], ["t", "T", declared]]
        path = form(tmp_path, [*survey[:1], ["integer", "a", "A?", "A ?", "H"]], choices=(), settings=settings,
                    name="fixed.xlsx")  # fmt: skip
        _, data = convert(path)
        assert data["default_language"] == "en", declared


TRICKY_TEXTS = ["Yes: no", "- item", "#hash", "a, b", "{x}", "[y]", "two\nlines", "null", "~", "123", "1e3", "true",
                "'quoted'", '"double"', "50% & more?", "emoji 😀", "tab\there", "ends with colon:", "&anchor", "*alias",
                "!tag", "| pipe", "> fold", "@at", "`tick`", "x" * 150]  # fmt: skip


def test_any_text_survives_the_yaml_writer(tmp_path: Path) -> None:
    survey = [["type", "name", "label", "hint"]]
    survey += [["select_one texts", f"q{i}", text, text] for i, text in enumerate(TRICKY_TEXTS)]
    choices = [["list_name", "name", "label", "extra"]]
    choices += [["texts", f"c{i}", text, text] for i, text in enumerate(TRICKY_TEXTS)]
    conversion, data = convert(form(tmp_path, survey, choices))
    assert [(q["label"], q["hint"]) for q in data["questions"]] == [(t, t) for t in TRICKY_TEXTS]
    assert [(c["label"], c["extra"]) for c in data["choices"]["texts"]] == [(t, t) for t in TRICKY_TEXTS]
    load_survey_text(conversion.yaml_text, "form.yaml")


def test_a_group_left_empty_by_dropping_is_left_out(tmp_path: Path) -> None:
    survey: list[list[Any]] = [HEADER, ["begin_group", "where", "Where"], ["background-audio", "gps", "GPS?"], ["end_group", None, None],
              ["integer", "a", "A?"]]  # fmt: skip
    conversion, data = convert(form(tmp_path, survey), drop_unsupported=True)
    assert [q["name"] for q in data["questions"]] == ["a"]
    assert [str(w) for w in conversion.warnings] == ["form.xlsx:survey:2: group 'where' left out: it has no questions"]
    assert [d.row for d in conversion.dropped] == [3]
